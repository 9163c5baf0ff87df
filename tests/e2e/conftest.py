"""End-to-end fixtures: free ports, real subprocesses with captured logs, a running Tocsin.

Every process started through `processes` writes its stdout and stderr to files under the test's
``tmp_path``, is stopped on teardown (SIGTERM, a bounded wait, then SIGKILL), and has its logs
attached to the report of a failing test ("Captured ... log" sections).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT = 10.0
READY_TIMEOUT = 30.0
LOG_TAIL_CHARS = 20_000


def find_free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_program(name: str) -> str:
    """The path of `name` on PATH; skips the test without it, unless CI=true where it fails."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not on PATH, and CI=true requires it", pytrace=False)
        pytest.skip(f"{name} is not on PATH")
    return path


def _tail(path: Path, limit: int = LOG_TAIL_CHARS) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return text if len(text) <= limit else f"<... {len(text) - limit} chars cut>\n{text[-limit:]}"


class ManagedProcess:
    """One subprocess whose stdout and stderr go to files in a log folder."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.stdout_path = log_dir / f"{name}.stdout.log"
        self.stderr_path = log_dir / f"{name}.stderr.log"
        self.returncode: int | None = None
        self.logs_shown = False
        """Set once a failure message carried the logs, so the report does not repeat them."""
        self._stdout = self.stdout_path.open("wb")
        self._stderr = self.stderr_path.open("wb")
        try:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=self._stdout,
                stderr=self._stderr,
            )
        except BaseException:
            self._close_files()
            raise

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def logs(self) -> str:
        """Both log files (the end of each), for failure messages."""
        parts = [f"$ {' '.join(self.argv)}"]
        code = self.popen.poll()
        parts.append(f"[{self.name}: {'running' if code is None else f'exit code {code}'}]")
        for label, path in (("stderr", self.stderr_path), ("stdout", self.stdout_path)):
            self._flush()
            text = _tail(path)
            parts.append(f"--- {self.name} {label} ({path}) ---\n{text or '<empty>'}")
        return "\n".join(parts)

    def fail(self, message: str) -> None:
        """Fail the test with `message` followed by this process's logs."""
        self.logs_shown = True
        pytest.fail(f"{message}\n\n{self.logs()}", pytrace=False)

    def wait_http(
        self,
        url: str,
        *,
        status: int = 200,
        timeout: float = READY_TIMEOUT,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Poll `url` until it answers `status`; fails (with the logs) on exit or timeout."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self.popen.poll()
                if code is not None:
                    self.fail(f"{self.name} exited with code {code} before {url} answered {status}")
                try:
                    response = client.get(url, headers=dict(headers or {}))
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if response.status_code == status:
                        return response
                    last = f"HTTP {response.status_code}: {response.text[:500]}"
                if time.monotonic() >= deadline:
                    self.fail(f"{self.name}: {url} did not answer {status} in {timeout}s ({last})")
                time.sleep(0.1)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait up to `timeout` seconds, then SIGKILL. Returns the exit code."""
        try:
            if self.popen.poll() is None:
                self.popen.send_signal(signal.SIGTERM)
                try:
                    self.popen.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.popen.kill()
                    self.popen.wait(timeout=timeout)
            self.returncode = self.popen.returncode
        finally:
            self._close_files()
        return self.returncode

    def _flush(self) -> None:
        for handle in (self._stdout, self._stderr):
            if not handle.closed:
                handle.flush()

    def _close_files(self) -> None:
        for handle in (self._stdout, self._stderr):
            if not handle.closed:
                handle.close()


class ProcessManager:
    """Starts processes for one test and stops every one of them (newest first) at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.started: list[ManagedProcess] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ManagedProcess:
        if any(p.name == name for p in self.started):
            raise ValueError(f"a process named {name!r} was already started")
        process = ManagedProcess(name, argv, self.log_dir, cwd=cwd, env=env)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        errors: list[BaseException] = []
        for process in reversed(self.started):
            try:
                process.stop()
            except BaseException as exc:  # keep stopping the others
                errors.append(exc)
        if errors:
            raise errors[0]

    def report_sections(self) -> list[tuple[str, str]]:
        return [(f"Captured {p.name} log", p.logs()) for p in self.started if not p.logs_shown]


_MANAGER_KEY = pytest.StashKey[ProcessManager]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach every started process's logs to the report of a failed setup or test."""
    report: pytest.TestReport = yield
    manager = item.stash.get(_MANAGER_KEY, None)
    if manager is not None and report.failed and call.when in ("setup", "call"):
        report.sections.extend(manager.report_sections())
    return report


@pytest.fixture
def free_port() -> Callable[[], int]:
    """Call it for a free 127.0.0.1 port; never hands out the same port twice in one test."""
    given: set[int] = set()

    def next_port() -> int:
        for _ in range(50):
            port = find_free_port()
            if port not in given:
                given.add(port)
                return port
        raise RuntimeError("no free port found in 50 tries")

    return next_port


@pytest.fixture
def processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProcessManager]:
    """Start subprocesses with `processes.start(...)`; all are stopped on teardown."""
    manager = ProcessManager(tmp_path / "logs")
    request.node.stash[_MANAGER_KEY] = manager
    try:
        yield manager
    finally:
        manager.stop_all()


@dataclass
class TocsinServer:
    """A Tocsin started with `tocsin run` in a subprocess."""

    process: ManagedProcess
    base_url: str
    port: int
    config_path: Path
    config: dict[str, Any]

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


@pytest.fixture
def start_tocsin(
    processes: ProcessManager, free_port: Callable[[], int], tmp_path: Path
) -> Callable[[dict[str, Any]], TocsinServer]:
    """Start Tocsin with `config` plus a free port and a fresh SQLite database; wait for /readyz.

    `config` is the YAML document as a dict; ``server`` and ``database`` are filled in unless
    given, and ``tocsin.log_format`` defaults to json.
    """

    def start(config: dict[str, Any]) -> TocsinServer:
        config = dict(config)
        port = free_port()
        server = {"host": "127.0.0.1", "port": port, **config.get("server", {})}
        port = int(server["port"])
        config["server"] = server
        config.setdefault(
            "database",
            {"url": f"sqlite+aiosqlite:///{tmp_path / 't.db'}", "auto_migrate": True},
        )
        config["tocsin"] = {"log_format": "json", **config.get("tocsin", {})}
        config_path = tmp_path / "tocsin.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = processes.start(
            "tocsin",
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config_path)],
            cwd=REPO_ROOT,
            env=env,
        )
        base_url = f"http://127.0.0.1:{port}"
        process.wait_http(f"{base_url}/readyz")
        return TocsinServer(process, base_url, port, config_path, config)

    return start
