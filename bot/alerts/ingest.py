"""Alert ingest: de-duplicate on fingerprint, group into incidents, resolve, damp flapping.

Most deliveries repeat what is known (Alertmanager re-sends every group on each interval), so
a request first sorts its alerts without locks or a transaction: `KnownAlerts` answers for
re-deliveries of what this process has seen, one lock-free read for the rest, and repeats only
add to counters written behind (`SeenCounts`). The alerts that change something go through
`apply.Changes` in transactions of at most `CHUNK` alerts, each locking rows in a fixed order
(alerts by id, then incidents by id). Should two replicas still collide (a deadlock or a unique
race on PostgreSQL), that transaction is retried whole: it is all-or-nothing, so nothing counts
twice.

One alert never costs the others (`limits.fit` makes every value storable first). Should the
database still refuse a value (`_refused`), the transaction is split in halves until the
alert that cannot be stored stands alone; it is rejected, and every other alert is stored.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.alerts.apply import Changes
from bot.alerts.batch import Rejected
from bot.alerts.event import AlertEvent
from bot.alerts.known import KnownAlerts
from bot.alerts.limits import fit
from bot.alerts.result import IngestResult, is_repeat
from bot.alerts.seen import SeenCounts
from bot.alerts.statements import statements
from bot.clock import Clock
from bot.outbox.enqueue import Outbox
from bot.settings.schema import Settings
from bot.store.db import Database
from bot.store.outage import reason

log = structlog.get_logger(__name__)

ATTEMPTS = 5
RETRYABLE_SQLSTATES = {"40P01", "40001", "23505"}  # deadlock, serialization, unique race
REFUSED_CLASSES = ("22", "54")  # data exceptions (too long, bad bytes), program limits
CHUNK = 500
"""Alerts read, or changed in one transaction, at a time: a 10,000-alert body is 20 short
transactions, not one that holds its locks for seconds."""
Key = tuple[str, str]
T = TypeVar("T")


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

    async def ingest(self, events: Sequence[AlertEvent]) -> IngestResult:
        latest: dict[Key, AlertEvent] = {}
        copies: dict[Key, int] = {}
        for event in map(fit, events):  # one request may repeat an alert: its last word counts
            key = (event.source, event.fingerprint)
            latest[key] = event
            copies[key] = copies.get(key, 0) + 1
        result = IngestResult(received=len(events), deduplicated=len(events) - len(latest))
        if not latest:
            return result
        now = self.clock.now()
        # Repeats need no lock and no transaction: what this process knows, or a lock-free
        # read, tells them apart, and their counters are written behind (`SeenCounts`). What
        # is news goes through locked transactions afterwards.
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
        found = await self._peek(unsure)
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
            for chunk in _chunks(list(changed), CHUNK):
                await self._settle(chunk, changed, ids, copies, now, result)
        if result.rejected:
            log.warning(
                "alerts refused by the database, the rest stored",
                refused=len(result.rejected),
                alerts=[r.as_json() for r in result.rejected[:10]],
            )
        return result

    async def _peek(self, keys: list[Key]) -> dict[Key, Any]:
        """What is known about these alerts, read without locks: per source, a chunk of
        fingerprints at a time (one indexed statement whatever the planner's statistics)."""
        by_source: dict[str, list[str]] = defaultdict(list)
        for source, fingerprint in keys:
            by_source[source].append(fingerprint)
        peek = statements(self.db.is_sqlite).peek
        found: dict[Key, Any] = {}
        async with self.db.autocommit() as conn:
            for source, fingerprints in by_source.items():
                for chunk in _chunks(fingerprints, CHUNK):
                    found.update(await _read(conn, peek, source, chunk))
        return found

    async def _settle(
        self,
        keys: list[Key],
        changed: dict[Key, AlertEvent],
        ids: dict[Key, int],
        copies: dict[Key, int],
        now: datetime,
        result: IngestResult,
    ) -> None:
        """Store `keys`; when the database refuses a value, halve until the alert it belongs
        to stands alone, and reject just that one."""
        try:
            await self._change([changed[k] for k in keys], ids, copies, now, result)
        except DBAPIError as exc:
            if not _refused(exc):
                raise
            if len(keys) > 1:
                half = len(keys) // 2
                await self._settle(keys[:half], changed, ids, copies, now, result)
                await self._settle(keys[half:], changed, ids, copies, now, result)
                return
            event = changed[keys[0]]
            result.rejected.append(
                Rejected(
                    where=f"fingerprint {event.fingerprint}",
                    reason="unstorable",
                    error=f"the database refused a value of this alert: {reason(exc)[:200]}",
                    fingerprint=event.fingerprint,
                    name=event.name[:128],
                )
            )

    async def _change(
        self,
        events: list[AlertEvent],
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
                    await changes.run(events, ids)
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
            outcome.deduplicated = len(changes.seen)
            result.add(outcome)
            return


async def _read(conn: AsyncConnection, peek: Any, source: str, fps: list[str]) -> dict[Key, Any]:
    rows = (await conn.execute(peek, {"source": source, "fps": fps})).all()
    return {(r.source, r.fingerprint): r for r in rows}


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sqlstate(exc: DBAPIError) -> str:
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return str(state or "")


def _retryable(exc: DBAPIError) -> bool:
    if _sqlstate(exc) in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


def _refused(exc: DBAPIError) -> bool:
    """The database refused a value (not the connection, not a collision): splitting the batch
    finds the alert it belongs to."""
    return _sqlstate(exc).startswith(REFUSED_CLASSES)
