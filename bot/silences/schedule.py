"""When each Alertmanager's silences are read next, shared by every replica.

The schedule of a source is a `maintenance` row (``am-silences:<source>``) moved on by one
conditional UPDATE, so one replica polls at a time. After a failed read the next waits twice as
long as the last, up to ten intervals; the gap just scheduled (``due_at - ran_at``) is the memory
of that, so the back-off and the "unreadable" log line (written once, at the first failure)
hold across replicas and restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, select, update

from bot.store.db import Database
from bot.store.tables import maintenance

log = structlog.get_logger(__name__)

BACKOFF_CAP = 10
"""The longest wait after failures, in poll intervals."""
DEFAULT = timedelta(seconds=30)


class PollSchedule:
    def __init__(self, db: Database, intervals: Mapping[str, timedelta]) -> None:
        self.db, self.intervals = db, intervals
        self._next: dict[str, datetime] = {}
        """When this replica knows the next read of each source is due (saves a query)."""

    def interval(self, source: str) -> timedelta:
        return self.intervals.get(source, DEFAULT)

    async def claim(self, source: str, now: datetime) -> timedelta | None:
        """The gap last scheduled when this replica is the one to poll `source` now, else None."""
        if (due := self._next.get(source)) is not None and now < due:
            return None
        name = f"am-silences:{source}"
        base = self.interval(source)
        row = maintenance.c
        async with self.db.begin() as conn:
            found = (
                await conn.execute(select(row.due_at, row.ran_at).where(row.name == name))
            ).first()
            if found is None:  # the first start: poll now (the replica whose row it is)
                inserted = await conn.execute(
                    self.db.insert(maintenance)
                    .values(name=name, due_at=now + base, ran_at=now)
                    .on_conflict_do_nothing()
                )
                self._next[source] = now + base
                return base if inserted.rowcount == 1 else None
            if found.due_at > now:
                self._next[source] = found.due_at
                return None
            claimed = await conn.execute(
                update(maintenance)
                .where(and_(row.name == name, row.due_at == found.due_at))
                .values(due_at=now + base, ran_at=now)
            )
        if claimed.rowcount != 1:
            return None
        self._next[source] = now + base
        return found.due_at - found.ran_at if found.ran_at is not None else base

    async def failed(self, source: str, now: datetime, gap: timedelta, exc: Exception) -> None:
        """A read failed: the next waits twice the last gap (at least two intervals, at most
        `BACKOFF_CAP`); only the first failure of a run of them is logged as a warning."""
        base = self.interval(source)
        wait = min(max(gap * 2, base * 2), base * BACKOFF_CAP)
        if gap <= base:  # the first failure of a run of them
            log.warning("alertmanager silences unreadable", source=source, error=str(exc))
        async with self.db.begin() as conn:
            await conn.execute(
                update(maintenance)
                .where(maintenance.c.name == f"am-silences:{source}")
                .values(due_at=now + wait)
            )
        self._next[source] = now + wait
