"""`Receipts`: providers' delivery reports (status callbacks, receipt pushes, polled answers)
kept and applied to the sends they are about.

Every report is stored as it came (`page_receipts`), then applied to its send, found by
(provider name, provider reference). A report can arrive before its send is recorded — a
callback racing the sender's write — and then waits, unapplied: the sender applies it when it
records the send, and the sweep of `bot.paging.poll` catches any left over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.metrics import Metrics
from bot.paging import failover
from bot.paging.chains import Chains
from bot.ports import DeliveryReport
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import page_receipts, page_sends, pages

log = structlog.get_logger(__name__)


class Receipts:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        metrics: Metrics,
        *,
        chains: Chains | None = None,
    ) -> None:
        """`chains`: the paging providers, to know whether a failed send has a provider after
        it (without them, the page goes back to the sender, which knows)."""
        self.settings, self.db, self.clock, self.metrics = settings, db, clock, metrics
        self.chains = chains
        self.users = {u.id: u for u in settings.users}

    async def record(self, reports: Sequence[DeliveryReport]) -> int:
        """Keep and apply `reports`, in one transaction; returns how many matched a send."""
        if not reports:
            return 0
        now = self.clock.now()
        matched = 0
        async with self.db.begin() as conn:
            for report in reports:
                stored = await conn.execute(
                    page_receipts.insert().values(
                        provider=report.provider,
                        provider_ref=report.message_id[:128],
                        status=report.status,
                        detail=report.detail[:256],
                        at=report.at,
                        received_at=now,
                        applied=False,
                    )
                )
                key = stored.inserted_primary_key
                assert key is not None
                receipt_id = int(key[0])
                send = await _send(conn, report.provider, report.message_id[:128])
                if send is None:
                    continue
                matched += 1
                await self.apply(conn, send, report.status, report.detail, report.at, now)
                await conn.execute(
                    update(page_receipts)
                    .where(page_receipts.c.id == receipt_id)
                    .values(applied=True)
                )
        return matched

    async def apply(
        self,
        conn: AsyncConnection,
        send: Any,
        status: str,
        detail: str,
        at: datetime,
        now: datetime,
    ) -> bool:
        """Apply one report to `send` (a `page_sends` row)."""
        self.metrics.page_deliveries.labels(send.provider, status).inc()
        return await failover.apply(
            conn, send, status, detail, at, now, await self._has_next(conn, send)
        )

    async def catch_up(self, conn: AsyncConnection, provider: str, ref: str, now: datetime) -> None:
        """Apply the reports that came for a send before it was recorded (its sender calls
        this in the transaction that records it)."""
        for receipt in await waiting(conn, provider, ref):
            send = await _send(conn, provider, ref)
            if send is not None and await mark_applied(conn, receipt.id):
                await self.apply(conn, send, receipt.status, receipt.detail, receipt.at, now)

    async def _has_next(self, conn: AsyncConnection, send: Any) -> bool | None:
        if self.chains is None:
            return None
        page = (await conn.execute(select(pages).where(pages.c.id == send.page_id))).first()
        if page is None:
            return False
        chain = failover.providers_for(self.chains, self.users, page)
        return bool(send.position + 1 < len(chain))


async def _send(conn: AsyncConnection, provider: str, ref: str) -> Any:
    """The send a report is about, or None when it is not recorded (yet)."""
    if not ref:
        return None
    stmt = (
        select(page_sends)
        .where(and_(page_sends.c.provider == provider, page_sends.c.provider_ref == ref))
        .order_by(page_sends.c.id.desc())
        .limit(1)
    )
    return (await conn.execute(stmt)).first()


async def waiting(conn: AsyncConnection, provider: str, ref: str) -> list[Any]:
    """Reports kept for a send before it was recorded, oldest first."""
    stmt = (
        select(page_receipts)
        .where(
            and_(
                page_receipts.c.provider == provider,
                page_receipts.c.provider_ref == ref,
                page_receipts.c.applied.is_(False),
            )
        )
        .order_by(page_receipts.c.id)
    )
    return list((await conn.execute(stmt)).all())


async def mark_applied(conn: AsyncConnection, receipt_id: int) -> bool:
    """Mark a waiting report applied; False when another pass took it first."""
    done = await conn.execute(
        update(page_receipts)
        .where(and_(page_receipts.c.id == receipt_id, page_receipts.c.applied.is_(False)))
        .values(applied=True)
    )
    return bool(done.rowcount)
