"""Alert ingest: de-duplicate on fingerprint, group into incidents, resolve, damp flapping.

Most deliveries repeat what is known (Alertmanager re-sends every group on each interval), so
a request first sorts its alerts without locks or a transaction: `KnownAlerts` answers for
re-deliveries of what this process has seen, one lock-free read for the rest, and repeats only
add to counters written behind (`SeenCounts`). The alerts that change something go through
`apply.Changes` in one transaction, which locks rows in a fixed order (alerts by id, then
incidents by id). Should two replicas still collide (a deadlock or a unique race on
PostgreSQL), that transaction is retried whole: it is all-or-nothing, so nothing counts twice.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.alerts.apply import Changes
from bot.alerts.event import AlertEvent
from bot.alerts.known import KnownAlerts
from bot.alerts.result import IngestResult, is_repeat
from bot.alerts.seen import SeenCounts
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
    def __init__(
        self, db: Database, outbox: Outbox, settings: Settings, clock: Clock, *, seen: SeenCounts
    ) -> None:
        self.db = db
        self.seen = seen
        self.known = KnownAlerts()
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
        result = IngestResult(received=len(events), deduplicated=len(events) - len(latest))
        if not latest:
            return result
        now = self.clock.now()
        # Repeats need no lock and no transaction: what this process knows, or a lock-free
        # read, tells them apart, and their counters are written behind (`SeenCounts`). What
        # is news goes through one locked transaction afterwards.
        unsure: list[Key] = []
        for key in sorted(latest):
            alert_id = self.known.repeat_of(latest[key], now)
            if alert_id is None:
                unsure.append(key)
            else:
                self.seen.add(alert_id, copies[key], now)
                result.deduplicated += 1
        if not unsure:
            return result
        async with self.db.autocommit() as conn:
            found = await _peek(conn, unsure)
        changed: dict[Key, AlertEvent] = {}
        for key in unsure:
            event, row = latest[key], found.get(key)
            if row is not None and is_repeat(event, row.status, row.starts_at, row.incident_status):
                self.known.learn(key, row.id, row.status, row.starts_at, now)
                self.seen.add(row.id, copies[key], now)
                result.deduplicated += 1
            else:
                changed[key] = event
        if changed:
            self.known.forget(list(changed))
            ids = {key: found[key].id for key in changed if key in found}
            await self._change(changed, ids, copies, now, result)
        return result

    async def _change(
        self,
        changed: dict[Key, AlertEvent],
        ids: dict[Key, int],
        copies: dict[Key, int],
        now: datetime,
        result: IngestResult,
    ) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            outcome = IngestResult()
            try:
                async with self.db.begin() as conn:
                    changes = Changes(self, conn, now, outcome, copies)
                    await changes.run(list(changed.values()), ids)
            except DBAPIError as exc:
                if attempt == ATTEMPTS or not _retryable(exc):
                    raise
                log.info(
                    "ingest collided with another writer; retrying",
                    attempt=attempt,
                    error=type(exc.orig).__name__,
                )
                await asyncio.sleep(random.uniform(0.005, 0.02) * attempt)
                continue
            for alert_id, n in changes.seen:  # repeats after all: another request was first
                self.seen.add(alert_id, n, now)
            for key, alert_id, event in changes.stored:  # committed: safe to remember
                self.known.learn(key, alert_id, event.status, event.starts_at, now)
            result.deduplicated += len(changes.seen)
            for name in ("opened", "updated", "resolved", "ignored", "unrouted"):
                setattr(result, name, getattr(outcome, name))
            result.incident_ids = outcome.incident_ids
            result.urgent = outcome.urgent
            return


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


async def _peek(conn: AsyncConnection, keys: list[Key]) -> dict[Key, Any]:
    """What is known about these alerts, read without locks."""
    rows = (await conn.execute(_PEEK, {"keys": keys})).all()
    return {(r.source, r.fingerprint): r for r in rows}


def _retryable(exc: DBAPIError) -> bool:
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if state in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)
