"""A shell run's files under ``log_dir``, and its output followed line by line.

``<run_id>.log``  everything the program wrote (stdout and stderr), written by the program
``<run_id>.exit`` ``{"exit_code": N}``, written by the wrapper when the program ends
``<run_id>.stop`` ``{"reason", "message", "at"}``, written by Tocsin before it signals the run
``<run_id>.json`` the pid, start time and the run's identity (makes `start` idempotent)

Tocsin may restart while a run goes on: a new backend reads these files to finish the story.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import PermanentDelivery

RING_LINES = 200
"""Lines of output kept in memory per run."""
WINDOW = 64 * 1024
"""How far back in the log a new reader starts (after a restart, or after a flood)."""
MAX_READ = 1024 * 1024
LINE_CHARS = 500
_RUN_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class RunFiles:
    log: Path

    @classmethod
    def under(cls, directory: Path, run_id: str) -> RunFiles:
        if not _RUN_ID.match(run_id):
            raise PermanentDelivery(f"shell: run id {run_id[:40]!r} cannot name a file")
        return cls(directory / f"{run_id}.log")

    @property
    def exit(self) -> Path:
        return self.log.with_suffix(".exit")

    @property
    def stop(self) -> Path:
        return self.log.with_suffix(".stop")

    @property
    def run(self) -> Path:
        return self.log.with_suffix(".json")

    def clear(self) -> None:
        for path in (self.log, self.exit, self.stop, self.run):
            path.unlink(missing_ok=True)


def prepare(directory: Path) -> None:
    """Create `directory` (0700) or check an existing one is this user's and not writable by
    others: the run files decide how runs ended, so nobody else may plant them."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.lstat()
    except OSError as exc:
        raise PermanentDelivery(f"shell: log_dir {directory}: {exc.strerror}") from exc
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermanentDelivery(f"shell: log_dir {directory} is not a directory of this user")
    if info.st_mode & 0o022:
        raise PermanentDelivery(f"shell: log_dir {directory} is writable by others")


def write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(data, file)
    os.replace(partial, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The file's object; None when it is missing or not (yet) a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class Output:
    """The run's output as it grows, read from the log file: each `follow` adds the lines
    written since the last, keeping the last `RING_LINES`. A reader that comes late (a new
    backend after a restart) starts `WINDOW` bytes from the end."""

    def __init__(self, path: Path, *, from_start: bool) -> None:
        self.path = path
        self.lines: deque[str] = deque(maxlen=RING_LINES)
        self._offset = 0
        self._partial = b""
        self._skip_partial = False
        if not from_start:
            self._jump(_size(path))

    def follow(self) -> None:
        try:
            with self.path.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size < self._offset:  # truncated: start again
                    self._offset, self._partial = 0, b""
                    self.lines.clear()
                if size - self._offset > MAX_READ:
                    self._jump(size)
                file.seek(self._offset)
                chunk = file.read(size - self._offset)
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        if complete and self._skip_partial:  # the line we started inside of
            complete, self._skip_partial = complete[1:], False
        self.lines.extend(_clean(line) for line in complete)

    def tail(self, count: int) -> list[str]:
        lines = list(self.lines)
        if self._partial and not self._skip_partial:
            lines.append(_clean(self._partial))
        return lines[-count:]

    def _jump(self, size: int) -> None:
        if size > WINDOW:
            self._offset, self._partial, self._skip_partial = size - WINDOW, b"", True


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _clean(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").rstrip("\r")[:LINE_CHARS]
