"""Whether a shell run's wrapper still lives, and signals to its process group (POSIX only).

A run's wrapper leads its own session, so its pid is also the group id every program of the
run shares. A pid from a stored RunRef may belong to an exited run, or — after long enough —
to an unrelated process: on Linux, ``/proc/<pid>/cmdline`` must still mention the run's exit
file (the wrapper's argument), else the pid is not the run's.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def alive(pid: int, marker: str) -> bool:
    """Whether the wrapper with `pid` (whose command line holds `marker`) still runs."""
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)  # our own child: reap it if it ended
    except ChildProcessError:
        pass  # started by an earlier Tocsin process
    else:
        if waited == pid:
            return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False  # gone, or another user's process now
    proc = Path("/proc") / str(pid)
    try:
        state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        cmdline = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return True  # no /proc here: the pid answering has to do
    return state not in ("Z", "X") and marker.encode() in cmdline


def signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # it has ended meanwhile
        os.killpg(pid, signum)
