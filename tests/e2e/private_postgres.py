"""A private PostgreSQL cluster for one test, from the server's own binaries (Debian's
``/usr/lib/postgresql/<version>/bin``), that a test may stop hard and start again.

It lives in a fresh folder under the system's temporary folder (short, so its unix socket path
fits, and reachable by the server's user), listens on a free 127.0.0.1 port and on a socket in
that folder, and never touches a cluster of the machine. PostgreSQL refuses to run as root, so
under root every command runs as the ``postgres`` OS user, which then owns the folder.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import postgres_required

TOOL_TIMEOUT = 60.0


def server_binaries() -> Path:
    """The folder holding initdb, pg_ctl and psql (the newest installed version); skips the
    test without one, unless CI=true, where it fails."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.insert(0, Path(on_path).parent)
    for folder in reversed(candidates):
        if all((folder / tool).exists() for tool in ("initdb", "pg_ctl", "psql")):
            return folder
    _unavailable("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    raise AssertionError("unreachable")


def _unavailable(why: str) -> None:
    if postgres_required():
        pytest.fail(f"{why}, and CI=true requires them", pytrace=False)
    pytest.skip(why)


class PrivateCluster:
    def __init__(self, binaries: Path, port: int) -> None:
        self.binaries, self.port = binaries, port
        self.root = Path(tempfile.mkdtemp(prefix="tocsin-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self.sockets.mkdir()
        self._as_server_user: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                self.remove()
                _unavailable("running as root, and there is no postgres OS user to run the server")
            for path in (self.root, self.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
            self._as_server_user = ["runuser", "-u", "postgres", "--"]

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._run(
            "initdb",
            *("-D", str(self.data), "-U", "postgres", "--auth=trust"),
            *("--no-locale", "--encoding=UTF8", "--no-sync"),
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=50"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash: every connection is cut, the next start recovers."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        status = self._tool("pg_ctl", "-D", str(self.data), "status")
        return status.returncode == 0

    def sql(self, statement: str, database: str = "postgres") -> list[str]:
        """Run one statement with psql over the private socket; its rows, one string each."""
        out = self._run(
            "psql",
            "-h",
            str(self.sockets),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-AtX",
            "-c",
            statement,
        )
        return [line for line in out.splitlines() if line]

    def remove(self) -> None:
        if self.data.exists() and self.running():
            self.stop("fast")
        shutil.rmtree(self.root, ignore_errors=True)

    def server_log(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-5000:]
        except OSError:
            return "<no server log>"

    def _run(self, tool: str, *args: str) -> str:
        done = self._tool(tool, *args)
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n"
                f"{done.stderr}\n--- server log ---\n{self.server_log()}"
            )
        return done.stdout

    def _tool(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [*self._as_server_user, str(self.binaries / tool), *args]
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT,
            check=False,
            cwd=self.root,
            env={**os.environ, "PGTZ": "UTC"},
        )
