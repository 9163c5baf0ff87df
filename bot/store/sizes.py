"""Row counts of the tables that grow, for the `tocsin_table_rows` gauge.

On PostgreSQL they are the planner's estimates (``pg_class.reltuples``, kept fresh by
autovacuum), which cost nothing to read; a table never analysed yet is counted, up to a bound.
SQLite, the small single-node store, is counted exactly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from sqlalchemy import bindparam, func, literal, select, text

from bot.metrics import Metrics
from bot.store.db import Database
from bot.store.outage import classify
from bot.store.tables import metadata

log = structlog.get_logger(__name__)

TABLES = (
    "incidents",
    "alerts",
    "card_posts",
    "outbox",
    "inbound_events",
    "audit_log",
    "console_messages",
    "digests",
    "escalation_log",
    "pages",
    "page_sends",
    "page_receipts",
    "runs",
    "gate_measurements",
    "schedule_overrides",
    "swap_requests",
)
EXACT_UP_TO = 100_000
"""A table without an estimate is counted up to this many rows."""

_ESTIMATES = text(
    "SELECT c.relname, c.reltuples FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname IN :names"
).bindparams(bindparam("names", expanding=True))


async def table_rows(db: Database) -> dict[str, int]:
    async with db.connect() as conn:
        counts: dict[str, int] = {}
        if not db.is_sqlite:
            rows = await conn.execute(_ESTIMATES, {"names": list(TABLES)})
            counts = {r.relname: int(r.reltuples) for r in rows if r.reltuples >= 0}
        for name in TABLES:
            if name not in counts:
                bounded = select(literal(1)).select_from(metadata.tables[name])
                if not db.is_sqlite:
                    bounded = bounded.limit(EXACT_UP_TO)
                stmt = select(func.count()).select_from(bounded.subquery())
                counts[name] = int((await conn.execute(stmt)).scalar_one())
    return counts


class TableSizes:
    """Sets the gauge, at most once per `every` seconds unless forced (after a prune)."""

    def __init__(
        self,
        db: Database,
        metrics: Metrics,
        every: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        timeout: float = 2.0,
    ) -> None:
        self.db, self.metrics, self.every, self.monotonic = db, metrics, every, monotonic
        self.timeout = timeout
        self._at: float | None = None

    async def refresh(self, *, force: bool = False) -> None:
        now = self.monotonic()
        if not force and self._at is not None and now - self._at < self.every:
            return
        self._at = now
        try:
            async with asyncio.timeout(self.timeout):
                counts = await table_rows(self.db)
        except Exception as exc:  # the database being away must not take /metrics with it
            unavailable = classify(exc)
            if unavailable is None:
                log.warning("table sizes not read", exc_info=True)
            else:  # counted with the outage, which is logged once
                self.db.outage.skipped(unavailable, what="table sizes")
            return
        for name, rows in counts.items():
            self.metrics.table_rows.labels(name).set(rows)
