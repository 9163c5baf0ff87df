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
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
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
POOL_SIZE = 1_000
"""Alerts of the `mixed` workload's pool (sent before the measured phase)."""
RESOLVED_SHARE = 5 / 7
"""Share of the pool resolved before the measured phase (`mixed` workload)."""
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SLACK = 30.0
"""Extra seconds a phase may take past its time limit (requests already in flight) before the
benchmark gives up on it."""

METRICS = (
    "tocsin_alerts_received_total",
    "tocsin_alerts_deduplicated_total",
    "tocsin_incidents_opened_total",
    "tocsin_alert_requests_rejected_total",
)
TARGETS = {1: 1_500, 50: 16_000}
TARGET_P99_MS = 50.0

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
SEVERITIES = ("critical", "warning", "info")
POOL_SERVICES = SERVICES[:10]
ROUTE = "ops"
"""The config's one route: incidents' group keys are `ops|<groupKey>`."""
CONSOLE_CHAT = "ops"


# -- workload ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Alert:
    group: int
    labels: dict[str, str]
    annotations: dict[str, str]
    fragment: bytes
    """The alert's JSON object, serialised once: a repeat sends exactly the same bytes."""
    starts: datetime
    firing: bool = True


@dataclass(slots=True)
class Request:
    data: bytes
    alerts: int
    repeats: int


@dataclass(frozen=True, slots=True)
class Group:
    """An Alertmanager group: its `groupKey` and `groupLabels`."""

    key: str
    labels: dict[str, str]


def request_head() -> bytes:
    """The request line and headers up to Content-Length. `Host` names no port, so the very
    same bytes go to every server of a run (Tocsin and the bare baseline)."""
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Authorization: Bearer {WEBHOOK_TOKEN}\r\n"
        "Content-Type: application/json\r\nUser-Agent: tocsin-bench\r\n"
    ).encode()


def rfc3339(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond:06d}Z"


def alert_fragment(
    labels: dict[str, str],
    annotations: dict[str, str],
    starts: datetime,
    ends: datetime | None = None,
) -> bytes:
    """One entry of `alerts[]`: firing, or resolved when `ends` is given."""
    canonical = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
    expr = f"ALERTS%7Balertname%3D%22{labels['alertname']}%22%7D"
    body = {
        "status": "firing" if ends is None else "resolved",
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(starts),
        "endsAt": "0001-01-01T00:00:00Z" if ends is None else rfc3339(ends),
        "generatorURL": f"http://prometheus:9090/graph?g0.expr={expr}&g0.tab=1",
        "fingerprint": hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest(),
    }
    return orjson.dumps(body)


def instance(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}:9100"


def render(head: bytes, group: Group, items: list[Alert]) -> bytes:
    """The whole HTTP request: an Alertmanager v4 webhook for `group` carrying `items`."""
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
            "groupKey": group.key,
            "truncatedAlerts": 0,
            "status": "firing" if any(a.firing for a in items) else "resolved",
            "receiver": "tocsin",
            "groupLabels": group.labels,
            "commonLabels": common_labels,
            "commonAnnotations": common_annotations,
            "externalURL": "http://alertmanager:9093",
            "alerts": [],
        }
    )
    assert envelope.endswith(b"[]}")
    body = envelope[:-2] + b",".join(a.fragment for a in items) + b"]}"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def group_of(labels: dict[str, str], names: tuple[str, ...]) -> Group:
    picked = {name: labels[name] for name in names}
    inner = ", ".join(f'{k}="{v}"' for k, v in picked.items())
    return Group(f"{{}}:{{{inner}}}", picked)


class Workload:
    """`groups`: Alertmanager v4 webhook bodies, 70 % repeats of already sent alerts, 30 % new.

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

    name = "groups"

    def __init__(self, *, groups: int, seed: int, lag: int, group_only: bool = False) -> None:
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
        self.head = request_head()

    def setup(self) -> list[Request]:
        """Nothing is sent before the warm-up."""
        return []

    def history(self) -> list[Group]:
        """The groups this workload sends to (what `--preload` writes past incidents of)."""
        return [self._group(i) for i in range(len(self.groups))]

    def requests(self, n: int, per_request: int) -> list[Request]:
        return [self._next(per_request) for _ in range(n)]

    # -- one request ------------------------------------------------------------------------

    def _group(self, index: int) -> Group:
        alertname, service = self.groups[index]
        return group_of({"alertname": alertname, "service": service}, ("alertname", "service"))

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
        return Request(
            render(self.head, self._group(group), chosen + fresh), per_request, len(chosen)
        )

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
            "instance": instance(n),
        }
        annotations = {"summary": f"{alertname} on {service} ({env}), instance #{n}"}
        starts = self.now - timedelta(seconds=self.rng.randrange(60, 7200))
        return Alert(
            group, labels, annotations, alert_fragment(labels, annotations, starts), starts
        )


class MixedWorkload:
    """`mixed`: requests that mix groups, over a pool of alerts that exist before the run.

    The pool: 1,000 alerts over 20 alert names x 10 services x 3 severities (600 Alertmanager
    groups, `groupKey` by alertname, service and severity; alert i is in group i mod 600 and
    has its own `instance`). `setup()` sends them all firing, one request per group, then 5/7
    of them (picked at random) resolved, again one request per group; that happens before the
    warm-up and is not measured.

    Every request then carries 70 % repeats, picked uniformly from the whole pool (without
    replacement within a request, as Alertmanager never sends an alert twice in one batch), each
    re-sent exactly as it now stands (firing, or resolved; same startsAt: a de-duplication),
    and 30 % new alerts (new fingerprints: a new `instance` label). The request's `groupKey`
    and `groupLabels` are those of its first alert's group, and its new alerts are of that
    group (same alertname, service and severity), so they join that group's incident the way
    Alertmanager would group them; when that incident was resolved during the setup, the new
    alert re-opens it. A 1-alert request is a repeat (70 %) or a new alert of a random group.
    """

    name = "mixed"

    def __init__(self, *, seed: int, pool: int = POOL_SIZE) -> None:
        self.rng = random.Random(seed)
        self.now = datetime.now(UTC)
        self.head = request_head()
        self.combos = [(a, s, sev) for a in ALERTNAMES for s in POOL_SERVICES for sev in SEVERITIES]
        self.count = 0
        self.firing = [self._new(i % len(self.combos)) for i in range(pool)]
        resolved = set(self.rng.sample(range(pool), round(pool * RESOLVED_SHARE)))
        self.pool = [self._resolve(a) if i in resolved else a for i, a in enumerate(self.firing)]
        self.resolved = [a for a in self.pool if not a.firing]

    def setup(self) -> list[Request]:
        """The pool, all firing, then 5/7 of it resolved; one request per group each time."""
        return self._by_group(self.firing) + self._by_group(self.resolved)

    def history(self) -> list[Group]:
        return [self._group(i) for i in range(len(self.combos))]

    def requests(self, n: int, per_request: int) -> list[Request]:
        return [self._next(per_request) for _ in range(n)]

    def _by_group(self, items: list[Alert]) -> list[Request]:
        groups: dict[int, list[Alert]] = {}
        for alert in items:
            groups.setdefault(alert.group, []).append(alert)
        return [
            Request(render(self.head, self._group(g), members), len(members), 0)
            for g, members in sorted(groups.items())
        ]

    def _group(self, index: int) -> Group:
        alertname, service, severity = self.combos[index]
        labels = {"alertname": alertname, "service": service, "severity": severity}
        return group_of(labels, ("alertname", "service", "severity"))

    def _next(self, per_request: int) -> Request:
        repeats = round(per_request * REPEAT_SHARE)
        if per_request == 1:
            repeats = 1 if self.rng.random() < REPEAT_SHARE else 0
        chosen = self.rng.sample(self.pool, repeats)
        kinds = [True] * repeats + [False] * (per_request - repeats)
        self.rng.shuffle(kinds)
        group = chosen[0].group if kinds[0] else self.rng.randrange(len(self.combos))
        taken = iter(chosen)
        items = [next(taken) if repeat else self._new(group) for repeat in kinds]
        return Request(render(self.head, self._group(group), items), per_request, repeats)

    def _new(self, group: int) -> Alert:
        self.count += 1
        n = self.count
        alertname, service, severity = self.combos[group]
        env = self.rng.choice(ENVS)
        labels = {
            "alertname": alertname,
            "service": service,
            "env": env,
            "severity": severity,
            "instance": instance(n),
        }
        annotations = {"summary": f"{alertname} on {service} ({env}), instance #{n}"}
        starts = self.now - timedelta(seconds=self.rng.randrange(600, 7200))
        return Alert(
            group, labels, annotations, alert_fragment(labels, annotations, starts), starts
        )

    def _resolve(self, alert: Alert) -> Alert:
        """The same alert (same fingerprint and startsAt), resolved a little while ago."""
        ends = max(alert.starts, self.now - timedelta(seconds=self.rng.randrange(5, 300)))
        fragment = alert_fragment(alert.labels, alert.annotations, alert.starts, ends)
        return Alert(alert.group, alert.labels, alert.annotations, fragment, alert.starts, False)


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


# -- preload: a database with history -----------------------------------------------------------

INCIDENT_COLUMNS = (
    "id",
    "group_key",
    "route",
    "tier",
    "title",
    "summary",
    "service",
    "environment",
    "labels",
    "status",
    "acked_by",
    "acked_at",
    "resolved_by",
    "resolved_at",
    "flapping",
    "firing_count",
    "alert_count",
    "destinations",
    "created_at",
    "updated_at",
    "version",
    "triggered_at",
)
ALERT_COLUMNS = (
    "id",
    "source",
    "fingerprint",
    "status",
    "name",
    "summary",
    "labels",
    "annotations",
    "generator_url",
    "starts_at",
    "ends_at",
    "first_seen_at",
    "last_seen_at",
    "received_count",
    "changes",
    "incident_id",
)
BARE_COLUMNS = (
    "source",
    "fingerprint",
    "status",
    "name",
    "labels",
    "annotations",
    "starts_at",
    "ends_at",
    "first_seen_at",
    "last_seen_at",
    "received_count",
)
_BARE_FROM_ALERT = tuple(ALERT_COLUMNS.index(c) for c in BARE_COLUMNS)
PRELOAD_CHUNK = 20_000
"""Incidents per batch (about five times as many alerts)."""
HISTORY = timedelta(days=90)


def history_rows(
    total: int, groups: list[Group], seed: int, first_incident: int = 1, first_alert: int = 1
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """`total` resolved alerts as (incident rows, alert rows) batches, columns in the order of
    `INCIDENT_COLUMNS` and `ALERT_COLUMNS` (JSON as text, aware UTC datetimes).

    Past incidents of the workload's own groups (same `group_key`, so the ingest's look-up of a
    group's open or recently resolved incident has to pass them by), each resolved by
    monitoring between 2 hours and 90 days ago after 1 minute to 3 hours, with 1 to 9 resolved
    alerts (5 on average) of their own fingerprints; every fifth was acknowledged first.
    """
    rng = random.Random(seed ^ 0x5EED)
    now = datetime.now(UTC)
    incident_id, alert_id, made = first_incident, first_alert, 0
    destinations = json.dumps([f"console:{CONSOLE_CHAT}"])
    incidents_batch: list[tuple[Any, ...]] = []
    alerts_batch: list[tuple[Any, ...]] = []
    while made < total:
        group = groups[rng.randrange(len(groups))]
        size = min(1 + rng.randrange(9), total - made)
        resolved = now - timedelta(seconds=7200 + rng.random() * HISTORY.total_seconds())
        created = resolved - timedelta(seconds=60 + rng.random() * 3 * 3600)
        alertname, service = group.labels["alertname"], group.labels["service"]
        env = ENVS[rng.randrange(len(ENVS))]
        severity = group.labels.get("severity") or ALERTNAMES[alertname]
        base = {"alertname": alertname, "service": service, "env": env, "severity": severity}
        acked = rng.random() < 0.2
        incidents_batch.append(
            (
                incident_id,
                f"{ROUTE}|{group.key}",
                ROUTE,
                "P3",
                f"{alertname} · {service}",
                f"{alertname} on {service} ({env})",
                service,
                env,
                json.dumps(base),
                "resolved",
                "bench" if acked else None,
                created + timedelta(seconds=30) if acked else None,
                "monitoring",
                resolved,
                False,
                0,
                size,
                destinations,
                created,
                resolved,
                3 + size,
                created,
            )
        )
        for _ in range(size):
            labels = {**base, "instance": instance(0x800000 + alert_id)}
            starts = created + timedelta(seconds=rng.random() * 60)
            ends = max(starts, resolved - timedelta(seconds=rng.random() * 60))
            annotations = {"summary": f"{alertname} on {service} ({env})"}
            alerts_batch.append(
                (
                    alert_id,
                    "am",
                    hashlib.blake2b(b"history|%d" % alert_id, digest_size=8).hexdigest(),
                    "resolved",
                    alertname,
                    annotations["summary"],
                    json.dumps(labels),
                    json.dumps(annotations),
                    "http://prometheus:9090/graph",
                    starts,
                    ends,
                    starts,
                    ends,
                    1 + rng.randrange(40),
                    json.dumps([starts.isoformat(), ends.isoformat()]),
                    incident_id,
                )
            )
            alert_id += 1
        made += size
        incident_id += 1
        if len(incidents_batch) >= PRELOAD_CHUNK or made >= total:
            yield incidents_batch, alerts_batch
            incidents_batch, alerts_batch = [], []


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1]


def sqlite_value(value: Any) -> Any:
    """As SQLAlchemy stores it in SQLite: naive UTC datetimes as text, booleans as integers."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


async def preload(
    url: str, target: str, total: int, groups: list[Group], seed: int, analyze: bool
) -> str:
    """Write `total` resolved alerts (and, for Tocsin, their incidents) straight into the
    server's database, after it created the schema. Returns what was done, for the log."""
    started = time.perf_counter()
    if url.startswith("sqlite"):
        what, how, took = await asyncio.to_thread(
            _preload_sqlite, url, target, total, groups, seed, analyze
        )
    else:
        what, how, took = await _preload_postgres(url, target, total, groups, seed, analyze)
    written = time.perf_counter() - started - took
    return f"{what} in {written:.1f} s; {how}" + (f" in {took:.1f} s" if analyze else "")


async def _preload_postgres(
    url: str, target: str, total: int, groups: list[Group], seed: int, analyze: bool
) -> tuple[str, str, float]:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        tables = ["alerts", "incidents"] if target == "tocsin" else ["bare_alerts"]
        first = {}
        for table in tables:
            first[table] = 1 + await conn.fetchval(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608
        alerts_n = incidents_n = 0
        for incident_rows, alert_rows in history_rows(
            total, groups, seed, first.get("incidents", 1), first.get("alerts", 1)
        ):
            if target == "tocsin":
                await conn.copy_records_to_table(
                    "incidents", records=incident_rows, columns=INCIDENT_COLUMNS
                )
                await conn.copy_records_to_table(
                    "alerts", records=alert_rows, columns=ALERT_COLUMNS
                )
                incidents_n += len(incident_rows)
            else:
                await conn.copy_records_to_table(
                    "bare_alerts",
                    records=[tuple(row[i] for i in _BARE_FROM_ALERT) for row in alert_rows],
                    columns=BARE_COLUMNS,
                )
            alerts_n += len(alert_rows)
        for table in tables:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
        what = f"preloaded {alerts_n:,} resolved alerts" + (
            f" ({incidents_n:,} resolved incidents)" if incidents_n else ""
        )
        if not analyze:
            return what, "no ANALYZE (--no-analyze: autovacuum may do it during the run)", 0.0
        started = time.perf_counter()
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
        took = time.perf_counter() - started
        return what, f"ran VACUUM (ANALYZE) on {', '.join(tables)}", took
    finally:
        await conn.close()


def _preload_sqlite(
    url: str, target: str, total: int, groups: list[Group], seed: int, analyze: bool
) -> tuple[str, str, float]:
    db = sqlite3.connect(sqlite_path(url), timeout=30, isolation_level=None)
    try:
        tables = ["alerts", "incidents"] if target == "tocsin" else ["bare_alerts"]
        first = {
            table: 1 + db.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]  # noqa: S608
            for table in tables
        }

        def insert(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
            marks = ", ".join("?" * len(columns))
            db.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                [tuple(sqlite_value(v) for v in row) for row in rows],
            )

        alerts_n = incidents_n = 0
        for incident_rows, alert_rows in history_rows(
            total, groups, seed, first.get("incidents", 1), first.get("alerts", 1)
        ):
            db.execute("BEGIN")
            if target == "tocsin":
                insert("incidents", INCIDENT_COLUMNS, incident_rows)
                insert("alerts", ALERT_COLUMNS, alert_rows)
                incidents_n += len(incident_rows)
            else:
                bare = [tuple(row[i] for i in _BARE_FROM_ALERT) for row in alert_rows]
                insert("bare_alerts", BARE_COLUMNS, bare)
            db.execute("COMMIT")
            alerts_n += len(alert_rows)
        what = f"preloaded {alerts_n:,} resolved alerts" + (
            f" ({incidents_n:,} resolved incidents)" if incidents_n else ""
        )
        if not analyze:
            return what, "no ANALYZE (--no-analyze)", 0.0
        started = time.perf_counter()
        db.execute("ANALYZE")
        return what, "ran ANALYZE", time.perf_counter() - started
    finally:
        db.close()


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


# -- one run and the report --------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    db: str
    per_request: int
    target: str
    result: PhaseResult
    load1: float = math.nan
    round: int = 1

    @property
    def rate(self) -> float:
        return self.result.alerts / max(self.result.seconds, 1e-9)


@dataclass(slots=True)
class Bodies:
    """Everything one (database, scenario) pair sends, built once, sent to every target."""

    workload: Workload | MixedWorkload
    setup: list[Request]
    warmup: list[Request]
    measured: list[Request]


def make_bodies(per_request: int, args: argparse.Namespace) -> Bodies:
    measured_n = args.requests or DEFAULT_REQUESTS[per_request]
    warmup_n = args.warmup if args.warmup is not None else max(measured_n // 10, 4 * args.conns)
    load: Workload | MixedWorkload
    if args.workload == "mixed":
        load = MixedWorkload(seed=args.seed)
    else:
        load = Workload(
            groups=args.groups, seed=args.seed, lag=2 * args.conns, group_only=args.group_only
        )
    setup = load.setup()
    warmup = load.requests(warmup_n, per_request)
    return Bodies(load, setup, warmup, load.requests(measured_n, per_request))


async def run_one(kind: str, per_request: int, args: argparse.Namespace) -> list[Row]:
    bodies = make_bodies(per_request, args)
    targets = ["tocsin", "bare"] if args.target == "both" else [args.target]
    rows = []
    for round_ in range(1, args.rounds + 1):  # interleaved, so noise hits every target alike
        for target in targets:
            row = await run_target(kind, per_request, target, bodies, args)
            row.round = round_
            rows.append(row)
            print()
    return rows


async def run_target(
    kind: str, per_request: int, target: str, bodies: Bodies, args: argparse.Namespace
) -> Row:
    title = f"[{kind}, {per_request} alert{'s' if per_request > 1 else ''}/request, {target}]"
    workdir = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    measured = bodies.measured
    try:
        async with database(kind, workdir) as url:
            server: Server = (BareServer if target == "bare" else Server)(
                workdir, url, args.workers
            )
            size = sum(len(r.data) for r in measured) / max(1, len(measured))
            try:
                ready = await server.start()
                print(
                    f"{title} server pid {server.pid} on port {server.port}, ready in "
                    f"{ready:.1f} s; workload {args.workload}, request size ~{size / 1024:.1f} KiB",
                    flush=True,
                )
                if args.preload:
                    done = await preload(
                        url,
                        target,
                        args.preload,
                        bodies.workload.history(),
                        args.seed,
                        analyze=not args.no_analyze,
                    )
                    print(f"  preload:  {done}", flush=True)
                setup = PhaseResult()
                if bodies.setup:
                    setup = await run_phase(server.port, bodies.setup, args.conns, 60.0, None)
                    print(
                        f"  setup:    {setup.requests} requests, {setup.alerts} alerts "
                        f"(the pool of {POOL_SIZE:,} firing, then 5/7 of it resolved) in "
                        f"{setup.seconds:.1f} s, {setup.errors} errors",
                        flush=True,
                    )
                warm = await run_phase(
                    server.port, bodies.warmup, args.conns, args.warmup_duration, server.pid
                )
                print(
                    f"  warm-up:  {warm.requests} requests, {warm.alerts} alerts in "
                    f"{warm.seconds:.1f} s, {warm.errors} errors",
                    flush=True,
                )
                profiler = start_profiler(args.profile, server, f"{kind}-{per_request}-{target}")
                activity = ActivitySampler(url) if args.pg_activity and kind == "postgres" else None
                if activity is not None:
                    await activity.start()
                try:
                    result = await run_phase(
                        server.port, measured, args.conns, args.duration, server.pid
                    )
                finally:
                    profile = await stop_profiler(profiler)
                    sessions = await activity.stop() if activity is not None else None
                load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
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
                print(cpu + f"; machine: {os.cpu_count()} CPUs, load average {load1:.2f}")
                if profile is not None:
                    print(f"  profile (py-spy, measured phase): {profile}")
                if sessions is not None:
                    print(f"  PostgreSQL sessions of this database (measured phase): {sessions}")
                phases = [("setup", setup), ("warm-up", warm), ("measured", result)]
                for phase, sample in [(n, x) for n, p in phases for x in p.samples]:
                    print(f"  error ({phase}): {sample}")
                expected_received = setup.alerts + warm.alerts + result.alerts
                expected_dedup = warm.repeats + result.repeats
                print(
                    f"  /metrics (expect received {expected_received}"
                    + (f", deduplicated {expected_dedup}" if target == "tocsin" else "")
                    + (", setup and warm-up included):" if setup.alerts else ", warm-up included):")
                )
                for line in await server.metrics():
                    print(f"    {line}")
                if args.workers > 1:
                    print("    (counters of the one worker process that answered /metrics)")
                if warm.errors or result.errors:
                    print(
                        "    (failed requests changed nothing, so later repeats of their new "
                        "alerts count as new: expect fewer deduplicated)"
                    )
                result.errors += setup.errors
            finally:
                code = await server.stop()
                running, stopping = server.problems()
                print(f"  server exit code {code}")
                report_problems("while running", running, args.show_log)
                report_problems("while shutting down", stopping, args.show_log)
                if args.keep:
                    print(f"  kept {workdir} (config, {server.log.name})")
            return Row(kind, per_request, target, result, load1)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


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
        "target",
        "alerts/req",
        "requests",
        "alerts",
        "seconds",
        "alerts/s",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "srv CPU",
        "load",
    )
    lines = [header]
    for row in rows:
        r = row.result
        seconds = max(r.seconds, 1e-9)
        cpu = "-" if r.server_cpu is None else f"{r.server_cpu / seconds:.2f}"
        lines.append(
            (
                row.db,
                row.target if row.round == 1 else f"{row.target} #{row.round}",
                str(row.per_request),
                str(r.requests),
                str(r.alerts),
                f"{r.seconds:.2f}",
                f"{r.alerts / seconds:,.0f}",
                f"{r.requests / seconds:,.0f}",
                f"{r.percentile(0.50) * 1000:.1f}",
                f"{r.percentile(0.99) * 1000:.1f}",
                str(r.errors),
                cpu,
                f"{row.load1:.2f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        yield "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        if n == 0:
            yield "  ".join("-" * w for w in widths)


def ratios(rows: list[Row]) -> Iterator[str]:
    """Tocsin against the bare baseline, per database and scenario (with --rounds, the best
    round of each: noise on a shared machine only ever slows a run down)."""
    best: dict[tuple[str, int, str], Row] = {}
    for row in rows:
        key = (row.db, row.per_request, row.target)
        if key not in best or row.rate > best[key].rate:
            best[key] = row
    pairs = [
        (row, best[(db, n, "bare")])
        for (db, n, target), row in best.items()
        if target == "tocsin" and (db, n, "bare") in best
    ]
    if not pairs:
        return
    rounds = max(r.round for r in rows)
    yield (
        "Tocsin against the bare baseline (same client, same bodies, same database"
        + (f"; best of {rounds} rounds each" if rounds > 1 else "")
        + "):"
    )
    for row, base_row in pairs:
        r, base = row.result, base_row.result
        rate, base_rate = row.rate, base_row.rate
        share = rate / base_rate if base_rate else math.nan
        yield (
            f"  {row.db}, {row.per_request}/request: {rate:,.0f} vs {base_rate:,.0f} alerts/s "
            f"= {share:.0%} of bare; p50 {r.percentile(0.5) * 1000:.1f} vs "
            f"{base.percentile(0.5) * 1000:.1f} ms, p99 {r.percentile(0.99) * 1000:.1f} vs "
            f"{base.percentile(0.99) * 1000:.1f} ms"
        )


def verdicts(rows: list[Row]) -> Iterator[str]:
    yield (
        f"Targets (Tocsin on PostgreSQL): >= {TARGETS[1]:,} alerts/s with 1-alert requests, "
        f">= {TARGETS[50]:,} alerts/s with 50-alert requests, p99 < {TARGET_P99_MS:.0f} ms."
    )
    for row in rows:
        if row.db != "postgres" or row.per_request not in TARGETS or row.target != "tocsin":
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
        "--workload",
        choices=("groups", "mixed"),
        default="groups",
        help="groups: new alerts keep opening incidents over 300 groups, one group per "
        "request (default); mixed: requests mixing groups over a pool of 1,000 existing "
        "alerts, 5/7 of them resolved (see bench/README.md)",
    )
    parser.add_argument(
        "--target",
        choices=("tocsin", "bare", "both"),
        default="tocsin",
        help="the server measured: Tocsin, the bare baseline (bench/bare.py), or both in turn "
        "with the same bodies (default tocsin)",
    )
    parser.add_argument(
        "--baseline",
        action="store_const",
        const="both",
        dest="target",
        help="the same as --target both",
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
    parser.add_argument(
        "--preload",
        type=int,
        default=0,
        metavar="N",
        help="before the warm-up, write N resolved alerts (in resolved incidents of the "
        "workload's groups, about 5 alerts each) straight into the database (default 0)",
    )
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="do not VACUUM (ANALYZE) the preloaded tables (ANALYZE on SQLite)",
    )
    parser.add_argument("--conns", type=int, default=8, help="concurrent connections")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (Tocsin's server.workers; the baseline's uvicorn workers)",
    )
    parser.add_argument(
        "--groups",
        type=int,
        default=300,
        help="groups workload: alert groups (alertname x service), at most 300",
    )
    parser.add_argument(
        "--group-only",
        action="store_true",
        help="groups workload: 50-alert requests repeat only their own group's alerts (no "
        "top-up from other groups): exact Alertmanager batches, fewer repeats early on",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="record the server with py-spy during each measured phase (collapsed stacks in "
        "DIR; summarise with `python -m bench.profile FILE`)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every target this many times, interleaved (tocsin, bare, tocsin, ...); the "
        "ratio line compares the best round of each (default 1)",
    )
    parser.add_argument(
        "--pg-activity",
        action="store_true",
        help="sample pg_stat_activity every 50 ms during the measured phase: what the "
        "server's PostgreSQL sessions were doing (running, waiting for a lock, a WAL flush, "
        "or idle in a transaction)",
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
    if args.preload < 0 or args.workers < 1 or args.rounds < 1:
        parser.error("--preload must not be negative, --workers and --rounds at least 1")
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
                done = await run_one(kind, per_request, args)
            except (RuntimeError, OSError, asyncpg.PostgresError, sqlite3.Error) as exc:
                print(f"[{kind}, {per_request}/request] FAILED: {exc}\n")
                failed = True
                continue
            rows.extend(done)
            failed = failed or any(r.result.errors > 0 or r.result.timed_out for r in done)
    preloaded = f", {args.preload:,} alerts preloaded" if args.preload else ""
    print(
        f"Ingest, workload {args.workload}, {args.conns} connections, {args.workers} server "
        f"process{'es' if args.workers > 1 else ''}, Alertmanager v4 webhooks, "
        f"{REPEAT_SHARE:.0%} repeats{preloaded}; measured phase only:"
    )
    for line in table(rows):
        print(line)
    print()
    for line in ratios(rows):
        print(line)
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
