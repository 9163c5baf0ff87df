"""The shell deploy backend with real scripts written into tmp_path: the argv and environment a
run gets, success and failure, RESULT lines, output, timeout, cancel, restarts, and chat text
that tries to reach a shell."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.deploy import shell
from adapters.deploy.shell import ShellBackend
from bot.clock import FakeClock
from bot.errors import ConfigError, PermanentDelivery
from bot.ports import DeployRequest, Phase, RunRef, RunStatus

Make = Callable[..., ShellBackend]
WAIT_FOR_GO = """
import os, time
for _ in range(2000):  # at most 20 s
    if os.path.exists({go!r}):
        break
    time.sleep(0.01)
"""


def script(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    path.chmod(0o755)
    return path


@pytest.fixture
async def make(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Make]:
    """``make(command, **settings)``: a shell backend logging under tmp_path; after the test
    every run it started is made sure to have ended."""
    made: list[ShellBackend] = []

    def build(command: Path | list[str], **overrides: Any) -> ShellBackend:
        argv = [str(command)] if isinstance(command, Path) else command
        raw = {"command": argv, "log_dir": str(tmp_path / "runs"), **overrides}
        backend = shell.create("scripts", raw, clock=clock)
        made.append(backend)
        return backend

    yield build
    for backend in made:
        await backend.aclose()
        for child in backend._children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def request(**overrides: Any) -> DeployRequest:
    values: dict[str, Any] = {
        "run_id": "run-42",
        "action": "deploy",
        "service": "orders",
        "environment": "prod",
        "version": "v2.4.1",
        "previous": "v2.4.0",
        "target": {"args": ["--cluster", "cn-east-1"], "env": {"REGION": "cn"}},
        "params": {},
        "requested_by": "alice",
        "approved_by": ("bob", "carol"),
    }
    return DeployRequest(**{**values, **overrides})


async def settle(backend: ShellBackend, ref: RunRef, req: DeployRequest) -> RunStatus:
    """Poll until the run has ended (bounded)."""
    for _ in range(1000):
        status = await backend.status(ref, req)
        if status.phase.done:
            return status
        await asyncio.sleep(0.02)
    raise AssertionError("the run did not end")


async def until(backend: ShellBackend, ref: RunRef, req: DeployRequest, text: str) -> RunStatus:
    """Poll until the running run's output shows `text` (bounded)."""
    for _ in range(1000):
        status = await backend.status(ref, req)
        if text in status.log_tail or status.phase.done:
            return status
        await asyncio.sleep(0.02)
    raise AssertionError(f"{text!r} never appeared")


# -- settings ------------------------------------------------------------------------------


def test_sections_are_validated_by_key() -> None:
    assert shell.validate({"command": ["/opt/deploy.sh"], "timeout": "20m"}) == []
    problems = shell.validate(
        {
            "command": "/opt/deploy.sh $VERSION",
            "working_dir": "relative/dir",
            "env": {"TOCSIN_VERSION": "x", "1BAD": "y"},
            "log_url_template": "https://logs/{run_id}/{secret}",
        }
    )
    assert problems == [
        "command: must be a list such as [/opt/deploy/deploy.sh], not a shell string",
        "working_dir: must be an absolute path",
        "env: TOCSIN_VERSION: TOCSIN_* variables are set by Tocsin",
        "log_url_template: may use {environment}, {run_id}, {service}, {version} only",
    ]
    assert shell.validate({"command": []}) == [
        "command: Tuple should have at least 1 item after validation, not 0"
    ]
    assert shell.validate_target({"args": ["--fast"], "env": {"A": "1"}}) == []
    assert shell.validate_target({"argv": []}) == [
        "argv: unknown key (check its spelling against config/example.yaml)"
    ]
    with pytest.raises(ConfigError):
        shell.create("x", {}, clock=FakeClock())


# -- what a run gets -----------------------------------------------------------------------


async def test_a_run_gets_its_values_as_argv_and_environment(
    tmp_path: Path, make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKY_SECRET", "tocsin-db-password")
    seen = tmp_path / "seen.json"
    deploy = script(
        tmp_path,
        "deploy.py",
        "import json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'env': dict(os.environ), 'cwd': os.getcwd()}},"
        f" open({str(seen)!r}, 'w'))\n"
        "print('deployed')\n",
    )
    backend = make(
        [str(deploy), "--verbose"],
        working_dir=str(tmp_path),
        env={"KUBECONFIG": "/etc/kube/prod"},
        log_url_template="https://ci.example.com/logs/{run_id}",
    )
    req = request(
        dry_run=True,
        params={"note": "$(rm -rf /)", "ticket": "OPS-1; touch pwned\n`id`"},
        stage="canary",
        canary_weight=10,
    )
    ref = await backend.start(req)
    status = await settle(backend, ref, req)

    assert (status.phase, status.message, status.progress) == (
        Phase.SUCCEEDED,
        "exit code 0",
        1.0,
    )
    assert status.log_tail == "deployed"
    assert ref.url == status.url == "https://ci.example.com/logs/run-42"
    assert ref.id == str(ref.data["pid"])
    got = json.loads(seen.read_text())
    assert got["argv"] == [
        "--verbose",
        "--cluster",
        "cn-east-1",
        "--action",
        "deploy",
        "--service",
        "orders",
        "--environment",
        "prod",
        "--version",
        "v2.4.1",
        "--previous",
        "v2.4.0",
        "--run-id",
        "run-42",
        "--dry-run",
        "--param",
        "note=$(rm -rf /)",
        "--param",
        "ticket=OPS-1; touch pwned\n`id`",
    ]
    env = got["env"]
    assert env["TOCSIN_VERSION"] == "v2.4.1" and env["TOCSIN_PREVIOUS"] == "v2.4.0"
    assert env["TOCSIN_DRY_RUN"] == "true" and env["TOCSIN_RUN_ID"] == "run-42"
    assert env["TOCSIN_APPROVED_BY"] == "bob,carol"
    assert (env["TOCSIN_STAGE"], env["TOCSIN_CANARY_WEIGHT"]) == ("canary", "10")
    assert env["KUBECONFIG"] == "/etc/kube/prod" and env["REGION"] == "cn"
    assert env["PATH"] == os.environ["PATH"]
    assert "LEAKY_SECRET" not in env
    assert got["cwd"] == str(tmp_path)
    assert not (tmp_path / "pwned").exists()
    assert backend.capabilities.dry_run is True and backend.capabilities.canary


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"a b": "1"}, "parameter name 'a b' is not allowed"),
        ({"--evil": "1"}, "parameter name '--evil' is not allowed"),
        ({"x;rm": "1"}, "parameter name 'x;rm' is not allowed"),
        ({"ok": "a\x00b"}, "parameter ok holds a NUL character"),
    ],
)
async def test_extras_that_cannot_be_passed_are_refused(
    tmp_path: Path, make: Make, params: dict[str, str], words: str
) -> None:
    deploy = script(tmp_path, "deploy.py", "open('ran', 'w')\n")
    with pytest.raises(PermanentDelivery, match=words):
        await make(deploy, working_dir=str(tmp_path)).start(request(params=params))
    assert not (tmp_path / "ran").exists()


async def test_a_version_that_looks_like_an_option_is_refused(tmp_path: Path, make: Make) -> None:
    deploy = script(tmp_path, "deploy.py", "")
    with pytest.raises(PermanentDelivery, match="--version '--help' cannot be passed"):
        await make(deploy).start(request(version="--help"))


async def test_a_missing_program_is_permanent(tmp_path: Path, make: Make) -> None:
    with pytest.raises(PermanentDelivery, match="is not an executable file"):
        await make(tmp_path / "nope.sh").start(request())
    with pytest.raises(PermanentDelivery, match="is not an executable file"):
        await make(["no-such-program-for-tocsin"]).start(request())


async def test_a_repeated_start_runs_once(tmp_path: Path, make: Make) -> None:
    runs = tmp_path / "runs.txt"
    deploy = script(tmp_path, "deploy.py", f"open({str(runs)!r}, 'a').write('ran\\n')\n")
    backend = make(deploy)
    first = await backend.start(request())
    again = await backend.start(request())
    assert again == first
    await settle(backend, first, request())
    assert runs.read_text() == "ran\n"

    other = await backend.start(request(version="v2.4.2"))  # the same id, another run
    assert other.id != first.id
    await settle(backend, other, request(version="v2.4.2"))
    assert runs.read_text() == "ran\nran\n"


# -- outcomes --------------------------------------------------------------------------------


async def test_a_failure_says_the_exit_code_and_the_last_line(tmp_path: Path, make: Make) -> None:
    deploy = script(
        tmp_path,
        "deploy.py",
        "import sys\nprint('pulling image', flush=True)\n"
        "print('error: image v2.4.1 not found', file=sys.stderr)\n"
        "sys.exit(2)\n",
    )
    backend = make(deploy)
    status = await settle(backend, await backend.start(request()), request())
    assert status.phase is Phase.FAILED
    assert status.message == "exit code 2: error: image v2.4.1 not found"
    assert status.log_tail == "pulling image\nerror: image v2.4.1 not found"


async def test_a_result_line_gives_the_message(tmp_path: Path, make: Make) -> None:
    deploy = script(
        tmp_path,
        "deploy.py",
        "import sys\nprint('checking health')\n"
        "print('RESULT status=failed message=health check failed on 2/3 hosts')\nsys.exit(3)\n",
    )
    backend = make(deploy)
    status = await settle(backend, await backend.start(request()), request())
    assert (status.phase, status.message) == (Phase.FAILED, "health check failed on 2/3 hosts")


@pytest.mark.parametrize(
    ("last_lines", "code", "phase", "message"),
    [
        (
            "RESULT status=succeeded message=3/3 hosts on v2.4.1",
            0,
            Phase.SUCCEEDED,
            "3/3 hosts on v2.4.1",
        ),
        ("RESULT status=failed message=canary 5xx at 7%", 0, Phase.FAILED, "canary 5xx at 7%"),
        (
            "RESULT status=succeeded message=done",
            1,
            Phase.FAILED,
            "exit code 1 (the script said: done)",
        ),
    ],
)
async def test_result_lines_and_exit_codes(
    tmp_path: Path, make: Make, last_lines: str, code: int, phase: Phase, message: str
) -> None:
    deploy = script(tmp_path, "deploy.py", f"import sys\nprint({last_lines!r})\nsys.exit({code})\n")
    backend = make(deploy)
    status = await settle(backend, await backend.start(request()), request())
    assert (status.phase, status.message) == (phase, message)


async def test_output_is_streamed_while_the_run_goes_on(tmp_path: Path, make: Make) -> None:
    go = tmp_path / "go"
    deploy = script(
        tmp_path,
        "deploy.py",
        "for i in range(1, 4):\n    print(f'step {i}/3', flush=True)\n"
        + WAIT_FOR_GO.format(go=str(go))
        + "for i in range(30):\n    print(f'rolled host {i}')\n",
    )
    backend = make(deploy)
    ref = await backend.start(request())

    running = await until(backend, ref, request(), "step 3/3")
    assert running.phase is Phase.RUNNING
    assert running.message == "step 3/3"
    assert running.log_tail == "step 1/3\nstep 2/3\nstep 3/3"

    go.touch()
    done = await settle(backend, ref, request())
    lines = done.log_tail.splitlines()
    assert len(lines) == 20 and lines[0] == "rolled host 10" and lines[-1] == "rolled host 29"


# -- timeout and cancel ----------------------------------------------------------------------


async def test_a_run_past_its_timeout_is_stopped_and_failed(
    tmp_path: Path, make: Make, clock: FakeClock
) -> None:
    deploy = script(
        tmp_path,
        "deploy.py",
        "import signal, sys, time\n"
        "def bye(*_):\n    print('SIGTERM: cleaning up', flush=True)\n    sys.exit(143)\n"
        "signal.signal(signal.SIGTERM, bye)\nprint('waiting', flush=True)\n"
        "for _ in range(2000):\n    time.sleep(0.01)\n",
    )
    backend = make(deploy)
    ref = await backend.start(request())
    await until(backend, ref, request(), "waiting")

    clock.advance(timedelta(minutes=16))
    stopping = await backend.status(ref, request())
    assert (stopping.phase, stopping.message) == (Phase.RUNNING, "timed out after 15m; stopping")
    done = await settle(backend, ref, request())
    assert (done.phase, done.message) == (Phase.FAILED, "timed out after 15m")
    assert done.log_tail.endswith("SIGTERM: cleaning up")


async def test_cancel_terminates_the_process_group(tmp_path: Path, make: Make) -> None:
    child_pid = tmp_path / "child.pid"
    deploy = script(
        tmp_path,
        "deploy.py",
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(20)'])\n"
        f"open({str(child_pid)!r}, 'w').write(str(child.pid))\n"
        "print('deploying', flush=True)\nchild.wait()\n",
    )
    backend = make(deploy)
    ref = await backend.start(request())
    await until(backend, ref, request(), "deploying")

    await backend.cancel(ref, request())
    done = await settle(backend, ref, request())
    assert (done.phase, done.message) == (Phase.CANCELLED, "cancelled")
    grandchild = int(child_pid.read_text())
    for _ in range(500):  # the group's other process got the SIGTERM too
        if not Path(f"/proc/{grandchild}").exists() or _zombie(grandchild):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the script's child survived the cancel")
    await backend.cancel(ref, request())  # the engine repeats it: nothing left to do


async def test_a_run_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path, make: Make) -> None:
    deploy = script(
        tmp_path,
        "deploy.py",
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('stubborn', flush=True)\nfor _ in range(2000):\n    time.sleep(0.01)\n",
    )
    backend = make(deploy, kill_grace="200ms")
    ref = await backend.start(request())
    await until(backend, ref, request(), "stubborn")

    await backend.cancel(ref, request())
    assert (await backend.status(ref, request())).message == "cancelled; stopping"
    done = await settle(backend, ref, request())
    assert (done.phase, done.message) == (Phase.CANCELLED, "cancelled")
    assert not exit_file(ref).exists()  # SIGKILL: the wrapper had no time to write it


# -- restarts --------------------------------------------------------------------------------


async def test_a_new_instance_follows_a_run_to_its_end(tmp_path: Path, make: Make) -> None:
    go = tmp_path / "go"
    deploy = script(
        tmp_path,
        "deploy.py",
        "print('before the restart', flush=True)\n"
        + WAIT_FOR_GO.format(go=str(go))
        + "print('after the restart')\nprint('RESULT status=succeeded message=v2.4.1 live')\n",
    )
    first = make(deploy)
    ref = await first.start(request())
    await until(first, ref, request(), "before the restart")
    await first.aclose()

    stored = RunRef(**json.loads(json.dumps({"id": ref.id, "url": ref.url, "data": ref.data})))
    second = make(deploy)
    assert (await second.status(stored, request())).phase is Phase.RUNNING
    go.touch()
    done = await settle(second, stored, request())
    assert (done.phase, done.message) == (Phase.SUCCEEDED, "v2.4.1 live")
    assert done.log_tail.splitlines() == [
        "before the restart",
        "after the restart",
        "RESULT status=succeeded message=v2.4.1 live",
    ]


async def test_a_run_that_ended_while_tocsin_was_down(tmp_path: Path, make: Make) -> None:
    deploy = script(tmp_path, "deploy.py", "import sys\nprint('no space left')\nsys.exit(1)\n")
    first = make(deploy)
    ref = await first.start(request())
    for _ in range(1000):
        if exit_file(ref).exists():
            break
        await asyncio.sleep(0.01)
    status = await make(deploy).status(ref, request())
    assert (status.phase, status.message) == (Phase.FAILED, "exit code 1: no space left")


async def test_a_run_whose_process_was_lost(tmp_path: Path, make: Make) -> None:
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    data = {"pid": gone.pid, "started": "2026-01-05T03:00:00+00:00"}
    data["log_file"] = str(tmp_path / "runs" / "run-42.log")
    status = await make(tmp_path / "deploy.py").status(RunRef(str(gone.pid), "", data), request())
    assert status.phase is Phase.FAILED
    assert status.message == "the run's process was lost (Tocsin restarted?)"


# -- artifacts -------------------------------------------------------------------------------


async def test_artifact_exists_asks_the_check_command(tmp_path: Path, make: Make) -> None:
    check = script(
        tmp_path,
        "check.py",
        "import sys\nversion = sys.argv[sys.argv.index('--version') + 1]\n"
        "sys.exit({'v1': 0, 'v2': 1}.get(version, 3))\n",
    )
    backend = make(tmp_path / "deploy.py", check_command=[str(check)])
    assert backend.capabilities.artifact_check is True
    assert await backend.artifact_exists(request(version="v1")) is True
    assert await backend.artifact_exists(request(version="v2")) is False
    assert await backend.artifact_exists(request(version="v3")) is None

    plain = make(tmp_path / "deploy.py")
    assert plain.capabilities.artifact_check is False
    assert await plain.artifact_exists(request()) is None


def exit_file(ref: RunRef) -> Path:
    return Path(ref.data["log_file"]).with_suffix(".exit")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True
