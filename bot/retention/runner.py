"""The engine's pruning pass: due once per `retention.interval`, run by one replica at a time.

When the pass is next due lives in the `maintenance` table. A replica whose engine round finds
it due moves the due time on in one conditional UPDATE; the replica whose UPDATE changed the row
prunes, the others wait for the new due time without asking the database again. A pass that
stops at its batch budget makes itself due again at once, so a backlog (the first prune of an
old database) drains over the following rounds while other passes keep running between them.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import and_, select, update

from bot.metrics import Metrics
from bot.retention.prune import prune
from bot.settings import Settings
from bot.store.db import Database
from bot.store.sizes import TableSizes
from bot.store.tables import maintenance

log = structlog.get_logger(__name__)

NAME = "retention"
BATCHES = 20
"""Statements per table in one engine pass (20 × 500 rows by default)."""


class RetentionPass:
    def __init__(
        self, settings: Settings, db: Database, metrics: Metrics, batches: int = BATCHES
    ) -> None:
        self.settings, self.db, self.batches = settings, db, batches
        self.sizes = TableSizes(db, metrics)
        self._next: datetime | None = None

    async def run(self, now: datetime) -> None:
        if self._next is not None and now < self._next:
            return
        if not await self._claim(now):
            return
        report = await prune(self.db, self.settings, now, batches=self.batches)
        if report.more:
            await self._due(now)
        if report.total or report.problems:
            log.info("pruned", rows=report.rows, more=report.more, problems=report.problems)
        await self.sizes.refresh(force=True)

    async def _claim(self, now: datetime) -> bool:
        """True when this replica is the one to prune now."""
        due = now + self.settings.retention.interval
        row = maintenance.c
        async with self.db.begin() as conn:
            claimed = await conn.execute(
                update(maintenance)
                .where(and_(row.name == NAME, row.due_at <= now))
                .values(due_at=due, ran_at=now)
            )
            if claimed.rowcount == 1:
                self._next = due
                return True
            current = (
                await conn.execute(select(row.due_at).where(row.name == NAME))
            ).scalar_one_or_none()
            if current is None:  # the first start: prune one interval from now
                await conn.execute(
                    self.db.insert(maintenance)
                    .values(name=NAME, due_at=due)
                    .on_conflict_do_nothing()
                )
            self._next = current or due
        return False

    async def _due(self, now: datetime) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                update(maintenance).where(maintenance.c.name == NAME).values(due_at=now)
            )
        self._next = None
