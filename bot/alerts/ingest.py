"""Alert ingest: de-duplicate on fingerprint, group into incidents, resolve, damp flapping.

One request's alerts are handled in one transaction. Most deliveries repeat what is already
known (Alertmanager re-sends every group on each interval), so a request first looks its alerts
up without locks: repeats only bump their counters. Alerts that change something go through
`apply.Changes`, which locks rows in a fixed order (alerts by id, then incidents by id). Should
two replicas still collide (a deadlock or a unique race on PostgreSQL, a busy SQLite), the whole
request is retried: it is all-or-nothing, so a retry never counts anything twice.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import structlog
from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.alerts.apply import Changes
from bot.alerts.event import AlertEvent
from bot.alerts.result import IngestResult, is_repeat
from bot.clock import Clock
from bot.outbox.enqueue import Outbox
from bot.settings.schema import Settings
from bot.store.db import Database
from bot.store.tables import alerts, incidents

log = structlog.get_logger(__name__)

ATTEMPTS = 5
RETRYABLE_SQLSTATES = {"40P01", "40001", "23505"}  # deadlock, serialization, unique race
Key = tuple[str, str]


class IngestService:
    def __init__(self, db: Database, outbox: Outbox, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.outbox = outbox
        self.settings = settings
        self.clock = clock

    async def ingest(self, events: list[AlertEvent]) -> IngestResult:
        latest: dict[Key, AlertEvent] = {}
        copies: dict[Key, int] = {}
        for event in events:  # one request may repeat an alert: its last word counts
            key = (event.source, event.fingerprint)
            latest[key] = event
            copies[key] = copies.get(key, 0) + 1
        for attempt in range(1, ATTEMPTS + 1):
            result = IngestResult(received=len(events), deduplicated=len(events) - len(latest))
            try:
                if latest:
                    async with self.db.begin() as conn:
                        await self._apply(conn, latest, copies, result)
                return result
            except DBAPIError as exc:
                if attempt == ATTEMPTS or not _retryable(exc):
                    raise
                log.info(
                    "ingest collided with another writer; retrying",
                    attempt=attempt,
                    error=type(exc.orig).__name__,
                )
                await asyncio.sleep(random.uniform(0.005, 0.02) * attempt)
        raise AssertionError("unreachable")

    async def _apply(
        self,
        conn: AsyncConnection,
        latest: dict[Key, AlertEvent],
        copies: dict[Key, int],
        result: IngestResult,
    ) -> None:
        now = self.clock.now()
        known = await _peek(conn, sorted(latest))
        seen: list[dict[str, Any]] = []
        changed: list[AlertEvent] = []
        for key in sorted(latest):
            event, row = latest[key], known.get(key)
            if row is not None and is_repeat(event, row.status, row.starts_at, row.incident_status):
                seen.append({"b_id": row.id, "b_seen": now, "b_n": copies[key]})
            else:
                changed.append(event)
        if changed:
            changes = Changes(self, conn, now, result, copies)
            await changes.run(changed, {k: known[k].id for k in known})
            seen.extend(changes.seen)
        result.deduplicated += len(seen)
        if seen:
            seen.sort(key=lambda s: int(s["b_id"]))  # the same lock order as everyone else
            await conn.execute(_SEEN, seen)


# Built once: the hot path then skips building and cache-keying statements per request.
_PEEK = (
    select(
        alerts.c.id,
        alerts.c.source,
        alerts.c.fingerprint,
        alerts.c.status,
        alerts.c.starts_at,
        incidents.c.status.label("incident_status"),
    )
    .join(incidents, incidents.c.id == alerts.c.incident_id)
    .where(tuple_(alerts.c.source, alerts.c.fingerprint).in_(bindparam("keys", expanding=True)))
)
_SEEN = (
    update(alerts)
    .where(alerts.c.id == bindparam("b_id"))
    .values(
        last_seen_at=bindparam("b_seen"),
        received_count=alerts.c.received_count + bindparam("b_n"),
    )
)


async def _peek(conn: AsyncConnection, keys: list[Key]) -> dict[Key, Any]:
    """What is known about these alerts, read without locks."""
    rows = (await conn.execute(_PEEK, {"keys": keys})).all()
    return {(r.source, r.fingerprint): r for r in rows}


def _retryable(exc: DBAPIError) -> bool:
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if state in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)
