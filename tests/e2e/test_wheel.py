"""The wheel as a user installs it: built from the source, installed with ``[all]`` into a fresh
virtual environment (no system site-packages), then ``tocsin --version`` and ``tocsin demo``,
whose console page and ``/healthz`` must answer: the console's static files and the schema
migrations travel in the wheel. pip may fetch the dependencies from the package index."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest

from bot.cli import version
from tests.e2e.conftest import REPO_ROOT, ProcessManager, find_free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

SOURCES = ("pyproject.toml", "README.md", "bot", "adapters", "commands")
"""What the wheel is built from (a copy, so the build leaves nothing in the working tree)."""
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 900
DEMO_READY_TIMEOUT = 90.0


def run(argv: list[str], timeout: float, cwd: Path | None = None) -> str:
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{argv[:4]} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def build_wheel(tmp_path: Path) -> Path:
    pytest.importorskip("build", reason="python -m build needs the 'build' package (dev extra)")
    source = tmp_path / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        origin = REPO_ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=ignore)
        else:
            shutil.copy2(origin, source / name)
    dist = tmp_path / "dist"
    run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)],
        BUILD_TIMEOUT,
    )
    [wheel] = dist.glob("tocsin-*.whl")
    return wheel


def test_the_wheel_installs_and_runs_the_demo(tmp_path: Path, processes: ProcessManager) -> None:
    wheel = build_wheel(tmp_path)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python, tocsin = env_dir / "bin" / "python", env_dir / "bin" / "tocsin"
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    run([*pip, f"{wheel}[all]"], INSTALL_TIMEOUT)

    assert run([str(tocsin), "--version"], 60).strip() == f"tocsin {version()}"
    listing = run([str(python), "-m", "zipfile", "-l", str(wheel)], 60)
    for packed in ("console.html", "console.js", "migrations/env.py", "0001_initial_schema.py"):
        assert packed in listing, f"{packed} is missing from the wheel"

    port = find_free_port()
    work = tmp_path / "elsewhere"  # not the source tree: everything must come from the wheel
    work.mkdir()
    demo = processes.start(
        "demo",
        [str(tocsin), "demo", "--port", str(port), "--data-dir", str(work / "demo")],
        cwd=work,
    )
    base = f"http://127.0.0.1:{port}"
    demo.wait_http(f"{base}/healthz", timeout=DEMO_READY_TIMEOUT)
    page = httpx.get(f"{base}/console", timeout=10.0)
    assert page.status_code == 200 and "<html" in page.text.lower()
    script = httpx.get(f"{base}/console/static/console.js", timeout=10.0)
    assert script.status_code == 200 and script.text.strip()
    assert demo.stop() in (0, -15)
