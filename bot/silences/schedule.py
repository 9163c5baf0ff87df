"""When each Alertmanager's silences are read next, shared by every replica.

The schedule of a source is a slot (`bot.store.slots`, ``am-silences:<source>``), so one
replica polls at a time. After a failed read the next waits twice as
long as the last, up to ten intervals; the gap just scheduled (``due_at - ran_at``) is the memory
of that, so the back-off and the "unreadable" log line (written once, at the first failure)
hold across replicas and restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import structlog

from bot.store.db import Database
from bot.store.slots import Slot

log = structlog.get_logger(__name__)

BACKOFF_CAP = 10
"""The longest wait after failures, in poll intervals."""
DEFAULT = timedelta(seconds=30)


class PollSchedule:
    def __init__(self, db: Database, intervals: Mapping[str, timedelta]) -> None:
        self.db, self.intervals = db, intervals
        self.slots: dict[str, Slot] = {}

    def interval(self, source: str) -> timedelta:
        return self.intervals.get(source, DEFAULT)

    def _slot(self, source: str) -> Slot:
        if source not in self.slots:
            self.slots[source] = Slot(self.db, f"am-silences:{source}")
        return self.slots[source]

    async def claim(self, source: str, now: datetime) -> timedelta | None:
        """The gap last scheduled when this replica is the one to poll `source` now, else None."""
        base = self.interval(source)
        claim = await self._slot(source).claim(now, base)
        if claim is None:
            return None
        if claim.due_at is None or claim.ran_at is None:
            return base
        return claim.due_at - claim.ran_at

    async def failed(self, source: str, now: datetime, gap: timedelta, exc: Exception) -> None:
        """A read failed: the next waits twice the last gap (at least two intervals, at most
        `BACKOFF_CAP`); only the first failure of a run of them is logged as a warning."""
        base = self.interval(source)
        wait = min(max(gap * 2, base * 2), base * BACKOFF_CAP)
        if gap <= base:  # the first failure of a run of them
            log.warning("alertmanager silences unreadable", source=source, error=str(exc))
        await self._slot(source).due(now + wait)
