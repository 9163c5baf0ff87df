"""``--preload`` of the ingest benchmark (``bench/ingest.py``): resolved alerts and incidents
of the workload's groups written straight into the server's database (COPY on PostgreSQL,
INSERT on SQLite) before the warm-up, and the database URL helpers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.ingest_load import ALERTNAMES, CONSOLE_CHAT, ENVS, ROUTE, Group, instance

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
