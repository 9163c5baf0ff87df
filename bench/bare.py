"""The bare baseline of the ingest benchmark: the least a webhook sink must do per request.

A raw ASGI app on uvicorn (uvloop + httptools, no access log: the settings `tocsin run` uses)
that checks the bearer token, parses the Alertmanager body with orjson and upserts every alert
into a scratch table (``INSERT … ON CONFLICT (source, fingerprint) DO UPDATE``), then answers
200. No grouping, no incidents, no outbox, no logging: what it reaches is a ceiling for a
Python ingest on the same machine, database and client, and `bench/ingest.py --baseline`
prints it beside Tocsin's figures.

PostgreSQL: one asyncpg pool, one statement per request (the alerts as arrays through
``unnest``, so a 50-alert request is one round trip). SQLite: the stdlib driver in the event
loop (WAL, ``synchronous=NORMAL``, as Tocsin sets it), one transaction per request.

Started by the benchmark as ``python -m bench.bare`` with its settings in the environment
(``BARE_PORT``, ``BARE_DSN``: a ``postgresql://`` or ``sqlite:///`` URL, ``BARE_TOKEN``,
``BARE_WORKERS``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TABLE = "bare_alerts"
PG_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    source varchar(64) NOT NULL,
    fingerprint varchar(128) NOT NULL,
    status varchar(16) NOT NULL,
    name varchar(256) NOT NULL,
    labels json NOT NULL,
    annotations json NOT NULL,
    starts_at timestamptz,
    ends_at timestamptz,
    first_seen_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    received_count integer NOT NULL DEFAULT 1,
    UNIQUE (source, fingerprint)
)
"""
PG_UPSERT = """
INSERT INTO bare_alerts AS a (source, fingerprint, status, name, labels, annotations,
                          starts_at, ends_at, first_seen_at, last_seen_at)
SELECT $1, f, s, n, l::json, an::json, sa, ea, $9, $9
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::timestamptz[], $8::timestamptz[]) AS t(f, s, n, l, an, sa, ea)
ON CONFLICT (source, fingerprint) DO UPDATE SET
    status = excluded.status, labels = excluded.labels, annotations = excluded.annotations,
    starts_at = excluded.starts_at, ends_at = excluded.ends_at,
    last_seen_at = excluded.last_seen_at, received_count = a.received_count + 1
"""
SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    starts_at TEXT,
    ends_at TEXT,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    received_count INTEGER NOT NULL DEFAULT 1,
    UNIQUE (source, fingerprint)
)
"""
SQLITE_UPSERT = """
INSERT INTO bare_alerts (source, fingerprint, status, name, labels, annotations,
                     starts_at, ends_at, first_seen_at, last_seen_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (source, fingerprint) DO UPDATE SET
    status = excluded.status, labels = excluded.labels, annotations = excluded.annotations,
    starts_at = excluded.starts_at, ends_at = excluded.ends_at,
    last_seen_at = excluded.last_seen_at, received_count = received_count + 1
"""
ZERO_TIME = "0001-01-01T00:00:00Z"
SOURCE = "am"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or value == ZERO_TIME:
        return None
    return datetime.fromisoformat(value)


class Sink:
    """Where the alerts go: PostgreSQL through asyncpg, or SQLite through sqlite3."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: asyncpg.Pool | None = None
        self.sqlite: sqlite3.Connection | None = None
        self.received = 0

    async def open(self) -> None:
        if self.dsn.startswith("sqlite:///"):
            self.sqlite = sqlite3.connect(self.dsn[len("sqlite:///") :], isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
                self.sqlite.execute(f"PRAGMA {pragma}")
            self.sqlite.execute(SQLITE_SCHEMA)
            return
        self.pool = await asyncpg.create_pool(self.dsn, min_size=4, max_size=10)
        async with self.pool.acquire() as conn, conn.transaction():
            # Worker processes start together: one creates the table, the others wait.
            await conn.execute("SELECT pg_advisory_xact_lock(7242)")
            await conn.execute(PG_SCHEMA)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        if self.sqlite is not None:
            self.sqlite.close()

    async def store(self, alerts: list[dict[str, Any]]) -> None:
        # One row may not be hit twice by one statement, and concurrent upserts must lock rows
        # in one order (fingerprint order) or they deadlock.
        latest = {str(a["fingerprint"]): a for a in alerts}
        latest = {k: latest[k] for k in sorted(latest)}
        now = datetime.now().astimezone()
        self.received += len(alerts)
        if self.sqlite is not None:
            stamp = now.isoformat()
            rows = [
                (
                    SOURCE,
                    fingerprint,
                    a["status"],
                    a["labels"].get("alertname", ""),
                    orjson.dumps(a["labels"]).decode(),
                    orjson.dumps(a.get("annotations") or {}).decode(),
                    a.get("startsAt"),
                    a.get("endsAt"),
                    stamp,
                    stamp,
                )
                for fingerprint, a in latest.items()
            ]
            self.sqlite.execute("BEGIN")
            try:
                self.sqlite.executemany(SQLITE_UPSERT, rows)
            except BaseException:
                self.sqlite.execute("ROLLBACK")
                raise
            self.sqlite.execute("COMMIT")
            return
        assert self.pool is not None
        values = list(latest.values())
        async with self.pool.acquire() as conn:
            await conn.execute(
                PG_UPSERT,
                SOURCE,
                list(latest),
                [a["status"] for a in values],
                [a["labels"].get("alertname", "") for a in values],
                [orjson.dumps(a["labels"]).decode() for a in values],
                [orjson.dumps(a.get("annotations") or {}).decode() for a in values],
                [_time(a.get("startsAt")) for a in values],
                [_time(a.get("endsAt")) for a in values],
                now,
            )


SINK = Sink(os.environ.get("BARE_DSN", ""))
AUTHORIZATION = f"Bearer {os.environ.get('BARE_TOKEN', '')}".encode()


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await SINK.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await SINK.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/readyz":
        await _answer(send, 200, b'{"ready":true}')
        return
    if path == "/metrics":
        await _answer(send, 200, b"bare_alerts_received_total %d\n" % SINK.received)
        return
    if scope["method"] != "POST" or not path.startswith("/api/v1/alerts/"):
        await _answer(send, 404, b'{"error":"not found"}')
        return
    if (b"authorization", AUTHORIZATION) not in scope["headers"]:
        await _answer(send, 401, b'{"error":"bad credentials"}')
        return
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    try:
        alerts = orjson.loads(b"".join(chunks))["alerts"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        await _answer(send, 400, orjson.dumps({"error": str(exc)}))
        return
    await SINK.store(alerts)
    await _answer(send, 200, orjson.dumps({"received": len(alerts)}))


def main() -> None:
    import uvicorn

    uvicorn.run(
        "bench.bare:app",
        host="127.0.0.1",
        port=int(os.environ["BARE_PORT"]),
        workers=int(os.environ.get("BARE_WORKERS", "1")),
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        lifespan="on",
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
