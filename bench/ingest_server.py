"""The server under test of the ingest benchmark (``bench/ingest.py``): Tocsin (`Server`) or
the bare baseline (`BareServer`) as a subprocess, its config, a summary of its log, a fresh
database per run, and what is watched during the measured phase: PostgreSQL's sessions
(`ActivitySampler`) and py-spy (`start_profiler`, `stop_profiler`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.ingest_client import ProtocolError, http_get
from bench.ingest_load import CONSOLE_CHAT, HOST, ROUTE, SERVICES, WEBHOOK_TOKEN
from bench.ingest_preload import asyncpg_dsn, sqlite_path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
CONSOLE_TOKEN = secrets.token_urlsafe(24)
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

METRICS = (
    "tocsin_alerts_received_total",
    "tocsin_alerts_deduplicated_total",
    "tocsin_incidents_opened_total",
    "tocsin_alert_requests_rejected_total",
)


# -- the server under test ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_config(port: int, database_url: str, workers: int = 1) -> dict[str, Any]:
    return {
        "tocsin": {
            "secret_key": secrets.token_urlsafe(32),
            "log_format": "json",
            "language": "en",
            "public_url": f"http://{HOST}:{port}",
        },
        "server": {"host": HOST, "port": port, "workers": workers},
        "database": {"url": database_url, "auto_migrate": True},
        "sources": [
            {"name": "am", "kind": "alertmanager", "auth": {"bearer_token": WEBHOOK_TOKEN}}
        ],
        "services": {s: {} for s in SERVICES},
        "routes": [
            {
                "name": ROUTE,
                "matchers": ['alertname=~".+"'],
                "destinations": [f"console:{CONSOLE_CHAT}"],
            }
        ],
        "users": [
            {"id": "bench", "name": "Bench", "roles": ["sre"], "identities": {"console": "bench"}}
        ],
        "roles": {"sre": {"grants": ["*"]}},
        "console": {
            "enabled": True,
            "auth": "token",
            "chats": [CONSOLE_CHAT],
            "tokens": {"bench": CONSOLE_TOKEN},
        },
    }


def write_config(path: Path, config: dict[str, Any]) -> None:
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML


def open_log(path: Path) -> Any:
    return path.open("wb")


def read_log(path: Path, start: int = 0, end: int | None = None) -> str:
    with path.open("rb") as log:
        log.seek(start)
        data = log.read() if end is None else log.read(max(0, end - start))
    return data.decode(errors="replace")


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class Server:
    """`tocsin run --config FILE` as a subprocess, its output in a log file."""

    target = "tocsin"
    metric_names: tuple[str, ...] = METRICS

    def __init__(self, workdir: Path, database_url: str, workers: int = 1) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.log = workdir / f"{self.target}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping_at: int | None = None
        """Size of the log when the server was asked to stop."""

    def command(self) -> tuple[list[str], dict[str, str]]:
        config = self.workdir / "tocsin.yaml"
        write_config(config, server_config(self.port, self.database_url, self.workers))
        return [sys.executable, "-m", "bot.cli", "run", "--config", str(config)], {}

    async def start(self) -> float:
        started = time.perf_counter()
        argv, env = self.command()
        log = open_log(self.log)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=str(ROOT),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            )
        finally:
            log.close()
        while time.perf_counter() - started < READY_TIMEOUT:
            if self.proc.returncode is not None:
                raise RuntimeError(
                    f"{self.target} exited with code {self.proc.returncode} before it "
                    f"was ready:\n{read_log(self.log)[-4000:]}"
                )
            with contextlib.suppress(
                OSError, asyncio.IncompleteReadError, ProtocolError, asyncio.TimeoutError
            ):
                status, _ = await http_get(self.port, "/readyz")
                if status == 200:
                    return time.perf_counter() - started
            await asyncio.sleep(0.2)
        raise RuntimeError(
            f"{self.target} was not ready after {READY_TIMEOUT:.0f} s:\n"
            f"{read_log(self.log)[-4000:]}"
        )

    async def stop(self) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.returncode is None:
            self.stopping_at = file_size(self.log)
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        return proc.returncode

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def metrics(self) -> list[str]:
        try:
            status, body = await http_get(self.port, "/metrics")
        except (OSError, asyncio.IncompleteReadError, ProtocolError, TimeoutError) as exc:
            return [f"/metrics failed: {type(exc).__name__}: {exc}"]
        if status != 200:
            return [f"/metrics answered HTTP {status}"]
        return [line for line in body.decode().splitlines() if line.startswith(self.metric_names)]

    def problems(self) -> tuple[list[LogProblem], list[LogProblem]]:
        """The log's warnings, errors and tracebacks while running and while shutting down,
        one entry per kind, in order of first appearance (see `summarise_log`)."""
        cut = self.stopping_at
        if cut is None:
            return summarise_log(read_log(self.log)), []
        return summarise_log(read_log(self.log, 0, cut)), summarise_log(read_log(self.log, cut))


class BareServer(Server):
    """The bare baseline (`bench/bare.py`): uvicorn, orjson and one upsert per request."""

    target = "bare"
    metric_names = ("bare_alerts_received_total",)

    def command(self) -> tuple[list[str], dict[str, str]]:
        url = self.database_url
        dsn = f"sqlite:///{sqlite_path(url)}" if url.startswith("sqlite") else asyncpg_dsn(url)
        env = {
            "BARE_PORT": str(self.port),
            "BARE_DSN": dsn,
            "BARE_TOKEN": WEBHOOK_TOKEN,
            "BARE_WORKERS": str(self.workers),
        }
        return [sys.executable, "-m", "bench.bare"], env


_LEVEL_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)[: ]")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Warning|Exit)\b.*")
_NOISE = re.compile(r"\d+(\.\d+)?|\[[^\]]*\]")


@dataclass(slots=True)
class LogProblem:
    signature: str
    example: str
    count: int = 1


def summarise_log(text: str) -> list[LogProblem]:
    """Group log entries at warning level or worse by kind.

    An entry is a JSON (structlog) line, or a plain ``LEVEL name: message`` line (stdlib
    logging, uvicorn) with the lines that follow it (a traceback). Plain lines at INFO/DEBUG
    level are dropped; text that is neither JSON nor logging output is kept. Entries of one kind
    (same message once numbers and brackets are blanked; for a traceback, same final exception)
    are counted, and the first is kept as the example.
    """
    entries: list[tuple[str, str]] = []
    block: list[str] = []

    def close_block() -> None:
        if block and not block[0].startswith(("INFO", "DEBUG")):
            entries.append((block[0], "\n".join(block)))
        block.clear()

    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            close_block()
            if record.get("level") in ("warning", "error", "critical", "exception"):
                head = f"{record.get('level')}: {record.get('event')}"
                entries.append((head, line))
        elif _LEVEL_LINE.match(line):
            close_block()
            block.append(line)
        elif line.strip():
            block.append(line)
    close_block()

    found: dict[str, LogProblem] = {}
    for head, full in entries:
        signature = head
        if "Traceback" in full:
            raised = [ln for ln in full.splitlines() if _EXCEPTION_LINE.match(ln)]
            if raised:
                signature = f"{head.split(':')[0]}: {raised[-1]}"
        signature = _NOISE.sub("#", signature)[:160]
        if signature in found:
            found[signature].count += 1
        else:
            found[signature] = LogProblem(signature, full)
    return list(found.values())


def condense(entry: str, width: int = 300) -> str:
    """A traceback without its library frames, long lines cut: the project's frames and the
    exceptions are what a reader needs (the full text is in server.log, see --keep)."""
    out: list[str] = []
    skip = False
    for line in entry.splitlines():
        stripped = line.strip()
        if stripped.startswith("File "):
            skip = "site-packages" in stripped or "<frozen" in stripped
            if skip:
                continue
        elif skip and line.startswith(" "):
            continue
        else:
            skip = False
        if set(stripped) <= set("^~ "):
            continue
        out.append(line if len(line) <= width else line[:width] + " ...")
    return "\n".join(out)


@contextlib.asynccontextmanager
async def database(kind: str, workdir: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    name = f"bench_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield PG_URL.format(name=name)
    finally:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def postgres_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


# -- what PostgreSQL's sessions were doing ---------------------------------------------------


class ActivitySampler:
    """Samples `pg_stat_activity` for the benchmark's database every `every` seconds: how many
    of the server's sessions were running a statement, and what those waited for (nothing
    = on a CPU or waiting for one; `Lock:transactionid` = a row lock another transaction holds;
    `IO:WALSync`, `LWLock:WALWrite` = commits flushing), and how many sat idle in a transaction
    (waiting for the server's next statement)."""

    QUERY = """
        SELECT state, coalesce(wait_event_type || ':' || wait_event, '') AS waiting
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND backend_type = 'client backend'
    """

    def __init__(self, url: str, every: float = 0.05) -> None:
        self.url, self.every = url, every
        self.samples = 0
        self.states: Counter[str] = Counter()
        self.task: asyncio.Task[None] | None = None
        self.conn: Any = None

    async def start(self) -> None:
        self.conn = await asyncpg.connect(asyncpg_dsn(self.url), timeout=5)
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        deadline = time.monotonic() + 3600  # bounded, whatever happens to the phase
        while time.monotonic() < deadline:
            for row in await self.conn.fetch(self.QUERY):
                state = row["state"] or "?"
                if state == "active":
                    state = f"active ({row['waiting'] or 'CPU'})"
                self.states[state] += 1
            self.samples += 1
            await asyncio.sleep(self.every)

    async def stop(self) -> str:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.conn is not None:
            await self.conn.close()
        if not self.samples:
            return "no samples"
        parts = [
            f"{count / self.samples:.2f} {state}"
            for state, count in self.states.most_common()
            if count / self.samples >= 0.01
        ]
        return f"on average, of {self.samples} samples: " + ", ".join(parts)


# -- profiling the server with py-spy -----------------------------------------------------------


@dataclass(slots=True)
class Profiler:
    proc: subprocess.Popen[bytes]
    output: Path


def start_profiler(directory: Path | None, server: Server, name: str) -> Profiler | None:
    """`py-spy record` on the server (and its worker processes) as collapsed stacks, or None
    when not asked for. Sampling from outside costs the server little, but py-spy itself takes
    some CPU on a 2-core machine: compare figures from runs without it."""
    if directory is None or server.pid is None:
        return None
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    directory.mkdir(parents=True, exist_ok=True)
    output = directory / f"{name}.txt"
    proc = subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(server.pid),
            "--subprocesses",
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(directory / f"{name}.py-spy.log").open("wb"),
    )
    time.sleep(0.5)  # let it attach before the clock starts
    return Profiler(proc, output)


async def stop_profiler(profiler: Profiler | None) -> str | None:
    if profiler is None:
        return None
    profiler.proc.send_signal(signal.SIGINT)
    for _ in range(100):
        if profiler.proc.poll() is not None:
            break
        await asyncio.sleep(0.1)
    else:
        profiler.proc.kill()
        profiler.proc.wait()
    if not profiler.output.exists():
        return f"py-spy wrote nothing (see {profiler.output.with_suffix('.py-spy.log')})"
    return f"{profiler.output} (summary: .venv/bin/python -m bench.profile {profiler.output})"
