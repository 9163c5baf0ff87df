"""A deploy script run on Tocsin's host: its argv carries the run, its exit code says how it went.

```yaml
deploy:
  backends:
    scripts: {kind: shell, command: [/opt/deploy/deploy.sh], timeout: 20m, env: {TZ: UTC}}
services:
  orders:
    deploy:
      prod: {backend: scripts, args: [--cluster, cn-east-1]}
```

- start: ``command + args + --action deploy|rollback --service S --environment E --version V
  --previous P --run-id R [--dry-run] [--param KEY=VALUE…]`` (see `shell_settings`: chat text
  is only ever one argv item, no shell sees it), through `shell_wrapper` in a new session (its
  own process group), output to ``<log_dir>/<run_id>.log``. The RunRef is the wrapper's pid,
  with the start time and the log file. A second `start` of the same run returns the first.
- status: running while the wrapper lives, with the last output line as the message and the
  last 20 lines as the tail (followed from the log file into a ring buffer of 200 lines). Then
  the exit code from ``<run_id>.exit``: 0 → succeeded, else failed with ``exit code N: <last
  line>``. A last line ``RESULT status=<succeeded|failed> message=<text>`` gives the message
  (and can fail a run that exited 0). Past ``timeout`` the run is stopped and failed.
- cancel / timeout: SIGTERM to the group, SIGKILL after ``kill_grace``.
- after a restart a new backend reads the same files; a run whose process is gone without an
  exit file is failed ("the run's process was lost").
- artifact_exists: ``check_command --service S --environment E --version V``: exit 0 → True,
  1 → False, anything else (or no check_command) → None.

Stops are enforced on the clock when status or cancel is called, and by a timer for the stops
this instance began. POSIX only.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.deploy.settings_common import entry_points, parse_target
from adapters.deploy.shell_files import (
    RING_LINES,
    Output,
    RunFiles,
    prepare,
    read_json,
    write_json,
)
from adapters.deploy.shell_process import alive, signal_group
from adapters.deploy.shell_settings import (
    ShellSettings,
    ShellTarget,
    command_line,
    environment,
    log_url,
)
from bot.clock import Clock
from bot.errors import PermanentDelivery
from bot.ports import BackendCapabilities, DeployRequest, Phase, RunRef, RunStatus
from bot.settings.durations import format_duration

WRAPPER = Path(__file__).with_name("shell_wrapper.py")
TAIL_LINES = 20
RESULT = re.compile(r"^RESULT\s+status=(succeeded|failed)(?:\s+message=(.*))?$")


class ShellBackend:
    kind = "shell"

    def __init__(self, name: str, settings: ShellSettings, *, clock: Clock) -> None:
        self.name = name
        self.capabilities = BackendCapabilities(
            dry_run=True,
            cancel=True,
            artifact_check=settings.check_command is not None,
            canary=True,
        )
        """The script is expected to honour ``--dry-run``."""
        self._settings = settings
        self._clock = clock
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._outputs: dict[str, Output] = {}
        self._killers: set[asyncio.Task[None]] = set()

    # -- the port ---------------------------------------------------------------------------

    async def start(self, request: DeployRequest) -> RunRef:
        target = _target(request.target)
        argv = command_line(self._settings, target, request)
        env = environment(self._settings, target, request)
        directory = self._log_dir()
        prepare(directory)
        files = RunFiles.under(directory, request.run_id)
        identity = _identity(request)
        earlier = read_json(files.run)
        if earlier is not None and earlier.get("request") == identity:
            return self._ref(request, files, earlier)
        files.clear()  # a different run under a reused id (a new database)
        self._check_program(argv[0], env)
        popen = await asyncio.to_thread(self._spawn, argv, env, files)
        self._children[popen.pid] = popen
        self._outputs[request.run_id] = Output(files.log, from_start=True)
        record = {"pid": popen.pid, "started": self._clock.now().isoformat(), "request": identity}
        write_json(files.run, record)
        return self._ref(request, files, record)

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        pid, files = int(ref.data["pid"]), RunFiles(Path(ref.data["log_file"]))
        output = self._output(request.run_id, files)
        output.follow()
        if self._running(pid, files):
            return await self._still_running(pid, files, ref, output)
        self._children.pop(pid, None)
        self._outputs.pop(request.run_id, None)
        output.follow()  # what it wrote last
        return self._ended(files, output, ref.url)

    async def cancel(self, ref: RunRef, request: DeployRequest) -> None:
        pid, files = int(ref.data["pid"]), RunFiles(Path(ref.data["log_file"]))
        if not self._running(pid, files):
            return
        stop = read_json(files.stop)
        if stop is None:
            self._stop(pid, files, "cancelled", "cancelled")
        elif self._grace_over(stop):
            signal_group(pid, signal.SIGKILL)

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        check = self._settings.check_command
        if check is None:
            return None
        target = _target(request.target)
        argv = [*check, "--service", request.service, "--environment", request.environment]
        argv += ["--version", request.version]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=self._settings.working_dir,
                env=environment(self._settings, target, None),
                start_new_session=True,
            )
        except OSError:
            return None
        try:
            code = await asyncio.wait_for(
                process.wait(), self._settings.check_timeout.total_seconds()
            )
        except TimeoutError:
            signal_group(process.pid, signal.SIGKILL)
            await process.wait()
            return None
        return {0: True, 1: False}.get(code)

    async def aclose(self) -> None:
        """Runs go on (a restarted Tocsin picks them up), but stops already begun are
        finished now, with SIGKILL."""
        for killer in list(self._killers):
            killer.cancel()
        await asyncio.gather(*self._killers, return_exceptions=True)

    # -- running ----------------------------------------------------------------------------

    def _spawn(
        self, argv: list[str], env: dict[str, str], files: RunFiles
    ) -> subprocess.Popen[bytes]:
        wrapper = [sys.executable, "-I", str(WRAPPER), "--exit-file", str(files.exit), "--"]
        log = os.open(files.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            return subprocess.Popen(  # noqa: S603 - an argv list, never a shell
                [*wrapper, *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._settings.working_dir,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise PermanentDelivery(f"shell: cannot start the run: {exc.strerror}") from exc
        finally:
            os.close(log)

    def _check_program(self, program: str, env: dict[str, str]) -> None:
        if "/" in program:
            path = Path(self._settings.working_dir or ".", program)
            found = path.is_file() and os.access(path, os.X_OK)
        else:
            found = shutil.which(program, path=env["PATH"]) is not None
        if not found:
            raise PermanentDelivery(f"shell: {program} is not an executable file")

    def _running(self, pid: int, files: RunFiles) -> bool:
        child = self._children.get(pid)
        if child is not None:
            return child.poll() is None
        if files.exit.exists():  # the wrapper writes it as its last act
            return False
        return alive(pid, str(files.exit))

    async def _still_running(
        self, pid: int, files: RunFiles, ref: RunRef, output: Output
    ) -> RunStatus:
        lines = output.tail(TAIL_LINES)
        stop = read_json(files.stop)
        started = datetime.fromisoformat(ref.data["started"])
        if stop is None and self._clock.now() - started >= self._settings.timeout:
            message = f"timed out after {format_duration(self._settings.timeout)}"
            stop = self._stop(pid, files, "timeout", message)
        if stop is None:
            message = next((line for line in reversed(lines) if line.strip()), "running")
            return RunStatus(Phase.RUNNING, message[:300], url=ref.url, log_tail="\n".join(lines))
        if self._grace_over(stop):
            signal_group(pid, signal.SIGKILL)
        message = f"{stop.get('message', 'stopping')}; stopping"
        return RunStatus(Phase.RUNNING, message, url=ref.url, log_tail="\n".join(lines))

    def _stop(self, pid: int, files: RunFiles, reason: str, message: str) -> dict[str, Any]:
        """Mark why the run is stopped, SIGTERM its group, and SIGKILL it after the grace."""
        stop = {"reason": reason, "message": message, "at": self._clock.now().isoformat()}
        write_json(files.stop, stop)
        signal_group(pid, signal.SIGTERM)
        killer = asyncio.create_task(self._kill_after_grace(pid, files))
        self._killers.add(killer)
        killer.add_done_callback(self._killers.discard)
        return stop

    async def _kill_after_grace(self, pid: int, files: RunFiles) -> None:
        try:
            await asyncio.sleep(self._settings.kill_grace.total_seconds())
        finally:  # also when cancelled by aclose: a stop once begun is finished
            if self._running(pid, files):
                signal_group(pid, signal.SIGKILL)

    def _grace_over(self, stop: dict[str, Any]) -> bool:
        try:
            at = datetime.fromisoformat(str(stop["at"]))
        except (KeyError, ValueError):
            return True
        return self._clock.now() - at >= self._settings.kill_grace

    # -- the outcome ------------------------------------------------------------------------

    def _ended(self, files: RunFiles, output: Output, url: str) -> RunStatus:
        lines = output.tail(RING_LINES)
        tail = "\n".join(lines[-TAIL_LINES:])
        stop = read_json(files.stop)
        if stop is not None:
            phase = Phase.CANCELLED if stop.get("reason") == "cancelled" else Phase.FAILED
            return RunStatus(phase, str(stop.get("message", "stopped")), url=url, log_tail=tail)
        ended = read_json(files.exit)
        code = ended.get("exit_code") if ended is not None else None
        if not isinstance(code, int):
            message = "the run's process was lost (Tocsin restarted?)"
            return RunStatus(Phase.FAILED, message, url=url, log_tail=tail)
        reported, said = _result(lines)
        last = next(
            (line for line in reversed(lines) if line.strip() and not RESULT.match(line.strip())),
            "",
        )
        if code == 0 and reported != "failed":
            return RunStatus(Phase.SUCCEEDED, said or "exit code 0", 1.0, url, tail)
        if code == 0:
            return RunStatus(
                Phase.FAILED, said or "the script reported a failure", url=url, log_tail=tail
            )
        how = _killed(code) if code < 0 else f"exit code {code}"
        if said and reported == "failed":
            message = said
        elif said:
            message = f"{how} (the script said: {said})"
        else:
            message = f"{how}: {last}" if last else how
        return RunStatus(Phase.FAILED, message[:500], url=url, log_tail=tail)

    # -- helpers ----------------------------------------------------------------------------

    def _ref(self, request: DeployRequest, files: RunFiles, record: dict[str, Any]) -> RunRef:
        data = {"pid": record["pid"], "started": record["started"], "log_file": str(files.log)}
        return RunRef(str(record["pid"]), log_url(self._settings, request), data)

    def _output(self, run_id: str, files: RunFiles) -> Output:
        if run_id not in self._outputs:
            self._outputs[run_id] = Output(files.log, from_start=False)
        return self._outputs[run_id]

    def _log_dir(self) -> Path:
        if self._settings.log_dir is not None:
            return Path(self._settings.log_dir)
        return Path(tempfile.gettempdir()) / "tocsin-runs"


def _target(raw: dict[str, Any]) -> ShellTarget:
    return parse_target(ShellTarget, raw, "shell: bad target")


def _identity(request: DeployRequest) -> dict[str, str]:
    return {
        "run_id": request.run_id,
        "action": request.action,
        "service": request.service,
        "environment": request.environment,
        "version": request.version,
    }


def _result(lines: list[str]) -> tuple[str, str]:
    """The status and message of the last ``RESULT`` line ("" and "" without one)."""
    for line in reversed(lines):
        match = RESULT.match(line.strip())
        if match:
            return match.group(1), (match.group(2) or "").strip()
    return "", ""


def _killed(code: int) -> str:
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


validate, validate_target, create = entry_points(ShellSettings, ShellTarget, ShellBackend)
