"""Running ``helm``: argument lists (never a shell), a small fixed environment, the cluster from
the settings, each process in its own process group.

Queries (``status``, ``history``, ``get values``) are awaited with a timeout. An upgrade or
rollback runs in the background with its output in a log file; the `Background` handle is a
plain `subprocess.Popen` polled without blocking, because an asyncio subprocess transport kills
its child when it is closed or collected: helm must be able to outlive Tocsin, since a killed
helm leaves the release ``pending-*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.deploy.helm_settings import HelmSettings
from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery

TRANSIENT = (
    "cluster unreachable",
    "connection refused",
    "connection reset",
    "i/o timeout",
    "tls handshake timeout",
    "timed out",
    "timeout",
    "too many requests",
    "the server is currently unable",
    "etcdserver",
    "another operation",
    "unexpected eof",
)
"""Words in helm's error that mean "try again" (anything else is permanent)."""
NOT_FOUND = "release: not found"
TAIL_LINES = 15


class HelmError(PermanentDelivery):
    """helm exited non-zero; `stderr` holds its message."""

    def __init__(self, message: str, stderr: str) -> None:
        self.stderr = stderr
        super().__init__(message)


class Helm:
    def __init__(self, settings: HelmSettings) -> None:
        self.settings = settings

    def environment(self) -> dict[str, str]:
        """PATH and HOME from Tocsin's environment, then the configured variables."""
        base = {"PATH": os.environ.get("PATH", os.defpath), "HOME": os.environ.get("HOME", "/")}
        extra = {name: value.get_secret_value() for name, value in self.settings.env.items()}
        return {**base, **extra}

    def command(self, args: Sequence[str], namespace: str) -> list[str]:
        cluster = ["--namespace", namespace]
        if self.settings.kubeconfig:
            cluster += ["--kubeconfig", self.settings.kubeconfig]
        if self.settings.kube_context:
            cluster += ["--kube-context", self.settings.kube_context]
        return [self.settings.binary, *args, *cluster]

    async def run(self, args: Sequence[str], namespace: str) -> str:
        """helm's stdout; `HelmError` / `RetryableDelivery` when it fails or takes too long."""
        what = f"helm {args[0]}"
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command(args, namespace),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.environment(),
                start_new_session=True,
            )
        except OSError as exc:
            raise _cannot_run(self.settings.binary, exc) from exc
        timeout = self.settings.query_timeout.total_seconds()
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            _signal_group(process.pid, signal.SIGKILL)
            await process.wait()
            raise RetryableDelivery(f"{what}: no answer within {timeout:g}s") from None
        if process.returncode != 0:
            raise error(what, err.decode(errors="replace"))
        return out.decode(errors="replace")

    async def json(self, args: Sequence[str], namespace: str, *, missing: Any = None) -> Any:
        """helm's ``-o json`` answer; `missing` when the release does not exist (if given)."""
        try:
            text = await self.run([*args, "--output", "json"], namespace)
        except HelmError as exc:
            if missing is not None and NOT_FOUND in exc.stderr:
                return missing
            raise
        try:
            return json.loads(text)
        except ValueError as exc:
            raise PermanentDelivery(f"helm {args[0]}: not JSON: {text[:200]!r}") from exc

    def spawn(self, args: Sequence[str], namespace: str, label: str) -> Background:
        """Start helm in the background, its output in a new log file (blocking: call it on a
        worker thread)."""
        fd, log = tempfile.mkstemp(prefix=f"tocsin-helm-{label}-", suffix=".log", dir=self._dir())
        try:
            popen = subprocess.Popen(  # noqa: S603 — an argument list, no shell
                self.command(args, namespace),
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                start_new_session=True,
            )
        except OSError as exc:
            Path(log).unlink(missing_ok=True)
            raise _cannot_run(self.settings.binary, exc) from exc
        finally:
            os.close(fd)
        return Background(popen, log)

    def _dir(self) -> str:
        return self.settings.log_dir or tempfile.gettempdir()


@dataclass
class Background:
    process: subprocess.Popen[bytes]
    log: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def returncode(self) -> int | None:
        return self.process.poll()

    async def stop(self, grace: float) -> None:
        await stop_group(self.pid, grace, lambda: self.returncode() is None)


async def stop_group(pid: int, grace: float, alive: Callable[[], bool]) -> None:
    """SIGTERM to the process group, SIGKILL if it is still there after `grace` seconds."""
    _signal_group(pid, signal.SIGTERM)
    for _ in range(max(1, int(grace / 0.05))):
        if not alive():
            return
        await asyncio.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)


def running_command(pid: int) -> list[str] | None:
    """The command line of a live process (Linux ``/proc``); None if gone or unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rpartition(")")[2].split()[0] == "Z":
            return None
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def tail(log: str | None) -> str:
    """The last lines of a log file ("" when there is none)."""
    if not log:
        return ""
    try:
        with open(log, "rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - 16384))
            text = file.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line[:300] for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-TAIL_LINES:])


def error(what: str, stderr: str) -> DeliveryError:
    """helm's error as a `DeliveryError`: its last ``Error:`` line, retryable or not."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    message = next((line for line in reversed(lines) if line.startswith("Error:")), "")
    message = message or (lines[-1] if lines else "failed without a message")
    if any(word in message.lower() for word in TRANSIENT):
        return RetryableDelivery(f"{what}: {message}")
    return HelmError(f"{what}: {message}", stderr)


def remove(log: str | None) -> None:
    if log:
        with contextlib.suppress(OSError):
            Path(log).unlink()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _cannot_run(binary: str, exc: OSError) -> PermanentDelivery:
    return PermanentDelivery(f"cannot run helm ({binary}): {exc.strerror or type(exc).__name__}")
