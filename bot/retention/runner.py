"""The engine's pruning pass: due once per `retention.interval`, run by one replica at a time.

When the pass is next due lives in the `maintenance` table (`bot.store.slots`); the first is one
interval after the first start. A pass that stops at its batch budget makes itself due again at
once, so a backlog (the first prune of an old database) drains over the following rounds while
other passes keep running between them.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from bot.metrics import Metrics
from bot.retention.prune import prune
from bot.settings import Settings
from bot.store.db import Database
from bot.store.sizes import TableSizes
from bot.store.slots import Slot

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
        self.slot = Slot(db, NAME)

    async def run(self, now: datetime) -> None:
        interval = self.settings.retention.interval
        if await self.slot.claim(now, interval, first_at_once=False) is None:
            return
        report = await prune(self.db, self.settings, now, batches=self.batches)
        if report.more:
            await self.slot.due(now)
        if report.total or report.problems:
            log.info("pruned", rows=report.rows, more=report.more, problems=report.problems)
        await self.sizes.refresh(force=True)
