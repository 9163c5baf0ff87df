"""Runs one deploy command for the shell backend and writes down how it ended.

    python -I shell_wrapper.py --exit-file PATH -- PROGRAM [ARG…]

PROGRAM gets this process's output (the run's log file), environment and working directory.
When it ends, ``{"exit_code": N}`` (negative: killed by signal -N) is written to PATH, so a
Tocsin that restarted meanwhile can still tell how the run went. The wrapper leads the run's
process group: SIGTERM, SIGINT and SIGHUP sent to the group reach PROGRAM, while the wrapper
itself keeps waiting to write the exit code; only SIGKILL stops it without one.

It is started by file with ``-I`` (outside Tocsin's environment) and uses the standard library
only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from types import FrameType

USAGE = "usage: shell_wrapper.py --exit-file PATH -- PROGRAM [ARG...]"


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[0] != "--exit-file" or argv[2] != "--":
        print(USAGE, file=sys.stderr)
        return 2
    exit_file, program = argv[1], argv[3:]
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _keep_waiting)  # a handler, not SIG_IGN: PROGRAM gets the default
    try:
        child = subprocess.Popen(program)  # noqa: S603 - an argv list, never a shell
    except OSError as exc:
        print(f"tocsin: cannot run {program[0]}: {exc.strerror}", flush=True)
        code = 127 if isinstance(exc, FileNotFoundError) else 126
    else:
        code = child.wait()
    record(exit_file, code)
    return code if code >= 0 else 128 - code


def record(path: str, code: int) -> None:
    """Write the exit code atomically: a reader sees the whole file or none."""
    partial = f"{path}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump({"exit_code": code}, file)
    os.replace(partial, path)


def _keep_waiting(signum: int, frame: FrameType | None) -> None:
    """The signal was for the group; PROGRAM decides what it means."""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
