"""Ingest benchmark: a real Tocsin server, Alertmanager webhooks pushed at it, alerts/s and latency.

Run with ``make bench`` (``.venv/bin/python bench/ingest.py``); ``--help`` lists the knobs and
``bench/README.md`` explains what is measured and how to read the table.

Every (database, scenario) pair gets a fresh database and a fresh ``tocsin run`` subprocess on a
free port of 127.0.0.1. All request bytes are built before the clock starts, and the client is a
minimal HTTP/1.1 keep-alive client on asyncio streams, so it costs the server as little CPU as
possible on a small machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
WEBHOOK_TOKEN = secrets.token_urlsafe(24)
CONSOLE_TOKEN = secrets.token_urlsafe(24)
PATH = "/api/v1/alerts/alertmanager"

DEFAULT_REQUESTS = {1: 4000, 50: 400}
REPEAT_SHARE = 0.7
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SLACK = 30.0
"""Extra seconds a phase may take past its time limit (requests already in flight) before the
benchmark gives up on it."""

TARGETS = {1: 1_500, 50: 8_000}
TARGET_P99_MS = 100.0

ALERTNAMES = {
    "HighLatency": "warning",
    "HighErrorRate": "critical",
    "PodCrashLooping": "high",
    "DiskSpaceLow": "warning",
    "MemoryPressure": "warning",
    "CPUThrottling": "info",
    "TargetDown": "critical",
    "CertificateExpiring": "warning",
    "QueueBacklog": "high",
    "ReplicationLag": "high",
    "SLOBurnRate": "critical",
    "ConnectionPoolExhausted": "high",
    "HighGCPause": "info",
    "NodeNotReady": "critical",
    "PersistentVolumeFull": "high",
    "KafkaConsumerLag": "warning",
    "HTTP5xxSpike": "critical",
    "CronJobFailed": "warning",
    "DNSFailures": "high",
    "TLSHandshakeErrors": "warning",
}
SERVICES = (
    "orders",
    "payments",
    "storefront",
    "checkout",
    "inventory",
    "search",
    "auth",
    "gateway",
    "billing",
    "shipping",
    "notifications",
    "catalog",
    "recommendations",
    "reviews",
    "ledger",
)
ENVS = ("prod", "prod", "prod", "staging")


# -- workload ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Alert:
    group: int
    labels: dict[str, str]
    annotations: dict[str, str]
    fragment: bytes
    """The alert's JSON object, serialised once: a repeat sends exactly the same bytes."""


@dataclass(slots=True)
class Request:
    data: bytes
    alerts: int
    repeats: int


class Workload:
    """Alertmanager v4 webhook bodies: 70 % repeats of already sent alerts, 30 % new ones.

    New alerts go to a random group (alertname x service, 300 by default), so incidents keep
    being opened throughout a run. A repeat is an alert sent by an earlier request (same
    fingerprint and startsAt), picked from the pool of alerts sent at least `lag` requests
    before, so it is (almost always) already stored when it arrives again.

    A 50-alert request names one Alertmanager group: the group's 15 new alerts plus 35 repeats
    from that group's pool. Early on a group has fewer than 35 sent alerts; the shortfall is
    filled with repeats from other groups so the 70/30 mix holds. With `group_only` it is not
    (every request then carries only its own group's alerts, exactly as Alertmanager sends them,
    and the share of repeats is lower until the groups have filled up).
    """

    def __init__(
        self, port: int, *, groups: int, seed: int, lag: int, group_only: bool = False
    ) -> None:
        self.rng = random.Random(seed)
        pairs = [(a, s) for a in ALERTNAMES for s in SERVICES]
        self.rng.shuffle(pairs)
        self.groups = pairs[: max(1, min(groups, len(pairs)))]
        self.lag = lag
        self.group_only = group_only
        self.pool: list[Alert] = []
        self.by_group: list[list[Alert]] = [[] for _ in self.groups]
        self.pending: deque[tuple[int, list[Alert]]] = deque()
        self.count = 0
        self.index = 0
        self.now = datetime.now(UTC)
        self.head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Authorization: Bearer {WEBHOOK_TOKEN}\r\n"
            "Content-Type: application/json\r\nUser-Agent: tocsin-bench\r\n"
        ).encode()

    def requests(self, n: int, per_request: int) -> list[Request]:
        return [self._next(per_request) for _ in range(n)]

    # -- one request ------------------------------------------------------------------------

    def _next(self, per_request: int) -> Request:
        while self.pending and self.pending[0][0] <= self.index - self.lag:
            for alert in self.pending.popleft()[1]:
                self.pool.append(alert)
                self.by_group[alert.group].append(alert)
        if per_request == 1:
            if self.pool and self.rng.random() < REPEAT_SHARE:
                chosen, fresh = [self.rng.choice(self.pool)], []
            else:
                chosen, fresh = [], [self._new(self.rng.randrange(len(self.groups)))]
            group = (chosen or fresh)[0].group
        else:
            group = self.rng.randrange(len(self.groups))
            want = round(per_request * REPEAT_SHARE)
            chosen = self._repeats(group, want)
            fresh = [self._new(group) for _ in range(per_request - len(chosen))]
        if fresh:
            self.pending.append((self.index, fresh))
        self.index += 1
        return Request(self._render(group, chosen + fresh), per_request, len(chosen))

    def _repeats(self, group: int, want: int) -> list[Alert]:
        own = self.by_group[group]
        chosen = self.rng.sample(own, min(want, len(own)))
        if len(chosen) < want and len(self.pool) > len(own) and not self.group_only:
            taken = {id(a) for a in chosen}
            for _ in range(20 * want):
                if len(chosen) >= want:
                    break
                alert = self.rng.choice(self.pool)
                if alert.group != group and id(alert) not in taken:
                    taken.add(id(alert))
                    chosen.append(alert)
        return chosen

    def _new(self, group: int) -> Alert:
        self.count += 1
        n = self.count
        alertname, service = self.groups[group]
        env = self.rng.choice(ENVS)
        labels = {
            "alertname": alertname,
            "service": service,
            "env": env,
            "severity": ALERTNAMES[alertname],
            "instance": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}:9100",
        }
        annotations = {"summary": f"{alertname} on {service} ({env}), instance #{n}"}
        canonical = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
        starts = self.now - timedelta(seconds=self.rng.randrange(60, 7200))
        expr = f"ALERTS%7Balertname%3D%22{alertname}%22%7D"
        body = {
            "status": "firing",
            "labels": labels,
            "annotations": annotations,
            "startsAt": starts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{starts.microsecond:06d}Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": f"http://prometheus:9090/graph?g0.expr={expr}&g0.tab=1",
            "fingerprint": hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest(),
        }
        return Alert(group, labels, annotations, orjson.dumps(body))

    def _render(self, group: int, items: list[Alert]) -> bytes:
        alertname, service = self.groups[group]
        common_labels = dict(items[0].labels)
        common_annotations = dict(items[0].annotations)
        for alert in items[1:]:
            common_labels = {k: v for k, v in common_labels.items() if alert.labels.get(k) == v}
            common_annotations = {
                k: v for k, v in common_annotations.items() if alert.annotations.get(k) == v
            }
        envelope = orjson.dumps(
            {
                "version": "4",
                "groupKey": f'{{}}:{{alertname="{alertname}", service="{service}"}}',
                "truncatedAlerts": 0,
                "status": "firing",
                "receiver": "tocsin",
                "groupLabels": {"alertname": alertname, "service": service},
                "commonLabels": common_labels,
                "commonAnnotations": common_annotations,
                "externalURL": "http://alertmanager:9093",
                "alerts": [],
            }
        )
        assert envelope.endswith(b"[]}")
        body = envelope[:-2] + b",".join(a.fragment for a in items) + b"]}"
        return self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body


# -- a minimal HTTP/1.1 keep-alive client ------------------------------------------------------


class ProtocolError(Exception):
    pass


class Connection:
    """One keep-alive connection: write pre-built request bytes, read status + sized body."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 "):
            raise ProtocolError(f"bad status line {head[:40]!r}")
        status = int(head[9:12])
        length, close = -1, False
        for line in head[:-4].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                raise ProtocolError("chunked responses are not supported by the bench client")
        if length < 0:
            raise ProtocolError("response without Content-Length")
        body = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    conn = Connection(port)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"
        return await asyncio.wait_for(conn.exchange(request.encode()), 10)
    finally:
        await conn.close()


@dataclass(slots=True)
class PhaseResult:
    requests: int = 0
    alerts: int = 0
    repeats: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    timed_out: bool = False
    client_cpu: float = 0.0
    server_cpu: float | None = None

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def run_phase(
    port: int, requests: list[Request], connections: int, time_limit: float, server_pid: int | None
) -> PhaseResult:
    """Send `requests` in order over `connections` keep-alive connections until all are answered
    or `time_limit` seconds have passed (requests in flight then are still awaited)."""
    result = PhaseResult()
    next_index = 0
    started = time.perf_counter()
    deadline = started + time_limit

    def record_error(text: str) -> None:
        result.errors += 1
        if len(result.samples) < 5:
            result.samples.append(text)

    async def worker() -> None:
        nonlocal next_index
        conn = Connection(port)
        try:
            while next_index < len(requests) and time.perf_counter() < deadline:
                item = requests[next_index]
                next_index += 1
                t0 = time.perf_counter()
                try:
                    status, body = await conn.exchange(item.data)
                except (
                    OSError,
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                    ProtocolError,
                    ValueError,
                ) as exc:
                    result.requests += 1
                    record_error(f"{type(exc).__name__}: {exc}")
                    await conn.close()
                    continue
                result.latencies.append(time.perf_counter() - t0)
                result.requests += 1
                if status == 200:
                    result.alerts += item.alerts
                    result.repeats += item.repeats
                else:
                    record_error(f"HTTP {status}: {body[:300].decode(errors='replace')}")
                    await conn.close()  # uvicorn drops the connection after an app error
        finally:
            await conn.close()

    cpu0, server0 = time.process_time(), process_cpu(server_pid)
    tasks = [asyncio.ensure_future(worker()) for _ in range(connections)]
    done, pending = await asyncio.wait(tasks, timeout=time_limit + SLACK)
    for task in pending:
        task.cancel()
    if pending:
        result.timed_out = True
        await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            record_error(f"client crashed: {task.exception()!r}")
    result.seconds = time.perf_counter() - started
    result.client_cpu = time.process_time() - cpu0
    server1 = process_cpu(server_pid)
    if server0 is not None and server1 is not None:
        result.server_cpu = server1 - server0
    return result


def process_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of a process and its children (worker processes), or None."""
    if pid is None:
        return None
    total, found = 0.0, False
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_file.read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(stat_file.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            found = True
    return total if found else None


# -- the server under test ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_config(port: int, database_url: str, workers: int = 1) -> dict[str, Any]:
    return {
        "tocsin": {
            "secret_key": secrets.token_hex(16),
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
            {"name": "ops", "matchers": ['alertname=~".+"'], "destinations": ["console:ops"]}
        ],
        "users": [
            {"id": "bench", "name": "Bench", "roles": ["sre"], "identities": {"console": "bench"}}
        ],
        "roles": {"sre": {"grants": ["*"]}},
        "console": {
            "enabled": True,
            "auth": "token",
            "chats": ["ops"],
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

    def __init__(self, workdir: Path, database_url: str, workers: int = 1) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.config = workdir / "tocsin.yaml"
        self.log = workdir / "server.log"
        write_config(self.config, server_config(self.port, database_url, workers))
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping_at: int | None = None
        """Size of the log when the server was asked to stop."""

    async def start(self) -> float:
        started = time.perf_counter()
        log = open_log(self.log)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                "--config",
                str(self.config),
                cwd=str(ROOT),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        finally:
            log.close()
        while time.perf_counter() - started < READY_TIMEOUT:
            if self.proc.returncode is not None:
                raise RuntimeError(
                    f"tocsin exited with code {self.proc.returncode} before it "
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
            f"tocsin was not ready after {READY_TIMEOUT:.0f} s:\n{read_log(self.log)[-4000:]}"
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

    async def metrics(self, names: tuple[str, ...]) -> list[str]:
        status, body = await http_get(self.port, "/metrics")
        if status != 200:
            return [f"/metrics answered HTTP {status}"]
        return [line for line in body.decode().splitlines() if line.startswith(names)]

    def problems(self) -> tuple[list[LogProblem], list[LogProblem]]:
        """The log's warnings, errors and tracebacks while running and while shutting down,
        one entry per kind, in order of first appearance (see `summarise_log`)."""
        cut = self.stopping_at
        if cut is None:
            return summarise_log(read_log(self.log)), []
        return summarise_log(read_log(self.log, 0, cut)), summarise_log(read_log(self.log, cut))


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


# -- one run and the report --------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    db: str
    per_request: int
    result: PhaseResult


METRICS = (
    "tocsin_alerts_received_total",
    "tocsin_alerts_deduplicated_total",
    "tocsin_incidents_opened_total",
    "tocsin_alert_requests_rejected_total",
)


async def run_one(kind: str, per_request: int, args: argparse.Namespace) -> Row | None:
    measured_n = args.requests or DEFAULT_REQUESTS[per_request]
    warmup_n = args.warmup if args.warmup is not None else max(measured_n // 10, 4 * args.conns)
    title = f"[{kind}, {per_request} alert{'s' if per_request > 1 else ''}/request]"
    workdir = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    try:
        async with database(kind, workdir) as url:
            server = Server(workdir, url, args.workers)
            load = Workload(
                server.port,
                groups=args.groups,
                seed=args.seed,
                lag=2 * args.conns,
                group_only=args.group_only,
            )
            warmup = load.requests(warmup_n, per_request)
            measured = load.requests(measured_n, per_request)
            size = sum(len(r.data) for r in measured) / max(1, len(measured))
            try:
                ready = await server.start()
                print(
                    f"{title} server pid {server.pid} on port {server.port}, ready in "
                    f"{ready:.1f} s; request size ~{size / 1024:.1f} KiB",
                    flush=True,
                )
                warm = await run_phase(
                    server.port, warmup, args.conns, args.warmup_duration, server.pid
                )
                print(
                    f"  warm-up:  {warm.requests} requests, {warm.alerts} alerts in "
                    f"{warm.seconds:.1f} s, {warm.errors} errors",
                    flush=True,
                )
                result = await run_phase(
                    server.port, measured, args.conns, args.duration, server.pid
                )
                repeat_share = 100 * result.repeats / max(1, result.alerts)
                print(
                    f"  measured: {result.requests} requests, {result.alerts} alerts "
                    f"({repeat_share:.0f} % repeats) in {result.seconds:.1f} s, "
                    f"{result.errors} errors"
                    + (" (hit the time limit)" if result.requests < len(measured) else "")
                    + (" (CLIENT TIMED OUT)" if result.timed_out else ""),
                    flush=True,
                )
                cpu = f"  CPU: client {result.client_cpu / result.seconds:.2f} cores"
                if result.server_cpu is not None:
                    cpu += f", server {result.server_cpu / result.seconds:.2f} cores"
                load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
                print(cpu + f"; machine: {os.cpu_count()} CPUs, load average {load1:.2f}")
                for phase, sample in [("warm-up", x) for x in warm.samples] + [
                    ("measured", x) for x in result.samples
                ]:
                    print(f"  error ({phase}): {sample}")
                expected_received = warm.alerts + result.alerts
                expected_dedup = warm.repeats + result.repeats
                print(
                    f"  /metrics (expect received {expected_received}, "
                    f"deduplicated {expected_dedup}, warm-up included):"
                )
                for line in await server.metrics(METRICS):
                    print(f"    {line}")
                if warm.errors or result.errors:
                    print(
                        "    (failed requests changed nothing, so later repeats of their new "
                        "alerts count as new: expect fewer deduplicated)"
                    )
            finally:
                code = await server.stop()
                running, stopping = server.problems()
                print(f"  server exit code {code}")
                report_problems("while running", running, args.show_log)
                report_problems("while shutting down", stopping, args.show_log)
                if args.keep:
                    print(f"  kept {workdir} (config, server.log)")
            return Row(kind, per_request, result)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def report_problems(when: str, problems: list[LogProblem], limit: int) -> None:
    if not problems:
        print(f"  server log {when}: no warnings or errors")
        return
    total = sum(p.count for p in problems)
    print(f"  server log {when}: {total} warnings/errors of {len(problems)} kinds:")
    for problem in problems[:limit]:
        print(f"  - {problem.count} x {problem.signature}")
        if "Traceback" in problem.example or problem.count == 1:
            print("      " + condense(problem.example).replace("\n", "\n      "))
    if len(problems) > limit:
        print(f"  - ... {len(problems) - limit} more kinds (--show-log, --keep)")


def table(rows: list[Row]) -> Iterator[str]:
    header = (
        "db",
        "alerts/req",
        "requests",
        "alerts",
        "seconds",
        "alerts/s",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
    )
    lines = [header]
    for row in rows:
        r = row.result
        seconds = max(r.seconds, 1e-9)
        lines.append(
            (
                row.db,
                str(row.per_request),
                str(r.requests),
                str(r.alerts),
                f"{r.seconds:.2f}",
                f"{r.alerts / seconds:,.0f}",
                f"{r.requests / seconds:,.0f}",
                f"{r.percentile(0.50) * 1000:.1f}",
                f"{r.percentile(0.99) * 1000:.1f}",
                str(r.errors),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        yield "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        if n == 0:
            yield "  ".join("-" * w for w in widths)


def verdicts(rows: list[Row]) -> Iterator[str]:
    yield (
        f"Targets (PostgreSQL): >= {TARGETS[1]:,} alerts/s with 1-alert requests, "
        f">= {TARGETS[50]:,} alerts/s with 50-alert requests, p99 < {TARGET_P99_MS:.0f} ms."
    )
    for row in rows:
        if row.db != "postgres" or row.per_request not in TARGETS:
            continue
        r = row.result
        rate = r.alerts / max(r.seconds, 1e-9)
        p99 = r.percentile(0.99) * 1000
        ok = rate >= TARGETS[row.per_request] and p99 < TARGET_P99_MS and not r.errors
        yield (
            f"  postgres, {row.per_request}/request: {rate:,.0f} alerts/s, p99 {p99:.1f} ms"
            f" -> {'meets' if ok else 'MISSES'} the target"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--scenario", choices=("1", "50", "both"), default="both", help="alerts per request"
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="measured requests per run (default 4000 for 1 alert/request, 400 for 50)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=60.0,
        help="time limit of the measured phase, seconds (default 60)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="warm-up requests (default a tenth of --requests, at least 4 per connection)",
    )
    parser.add_argument(
        "--warmup-duration",
        type=float,
        default=15.0,
        help="time limit of the warm-up, seconds (default 15)",
    )
    parser.add_argument("--conns", type=int, default=8, help="concurrent connections")
    parser.add_argument(
        "--workers", type=int, default=1, help="Tocsin server processes (server.workers)"
    )
    parser.add_argument(
        "--groups", type=int, default=300, help="alert groups (alertname x service), at most 300"
    )
    parser.add_argument(
        "--group-only",
        action="store_true",
        help="50-alert requests repeat only their own group's alerts (no top-up from other "
        "groups): exact Alertmanager batches, fewer repeats early on",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--show-log",
        type=int,
        default=10,
        help="kinds of server log warnings/errors to print per run",
    )
    parser.add_argument("--keep", action="store_true", help="keep config and server log")
    args = parser.parse_args(argv)
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.conns < 1 or args.duration <= 0 or args.warmup_duration <= 0:
        parser.error("--conns and the durations must be positive")
    return args


async def amain(args: argparse.Namespace) -> int:
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    scenarios = [1, 50] if args.scenario == "both" else [int(args.scenario)]
    rows: list[Row] = []
    failed = False
    for kind in kinds:
        if kind == "postgres":
            why = await postgres_available()
            if why is not None:
                print(f"[postgres] skipped: no PostgreSQL at {PG_ADMIN} ({why})\n")
                continue
        for per_request in scenarios:
            try:
                row = await run_one(kind, per_request, args)
            except (RuntimeError, OSError, asyncpg.PostgresError) as exc:
                print(f"[{kind}, {per_request}/request] FAILED: {exc}")
                failed = True
                continue
            if row is not None:
                rows.append(row)
                failed = failed or row.result.errors > 0 or row.result.timed_out
            print()
    print(
        f"Tocsin ingest, {args.conns} connections, Alertmanager v4 webhooks, "
        f"{REPEAT_SHARE:.0%} repeats; measured phase only:"
    )
    for line in table(rows):
        print(line)
    print()
    for line in verdicts(rows):
        print(line)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvloop  # the client should cost the server as little CPU as possible
    except ImportError:
        return asyncio.run(amain(args))
    return uvloop.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
