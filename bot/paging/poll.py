"""`ReceiptPass`, an engine pass over phone pages waiting for their providers:

- a send not confirmed delivered by its `confirm_by` hands the page to the next provider (or,
  when its incident is no longer triggered, just stops waiting);
- reports that arrived before their send was recorded, and still wait, are applied once it is;
- providers whose reports are read by asking (`bot.ports.ReceiptPoller`, e.g. Aliyun) are
  asked, every `POLL_EVERY`, by one replica at a time, about their sends still waiting.

Each write is conditional on what was read, so replicas running the pass together never move
a page twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, select, update

from bot.clock import Clock
from bot.errors import RetryableDelivery
from bot.paging import failover
from bot.paging.chains import Chains
from bot.paging.receipts import Receipts, mark_applied
from bot.ports import ReceiptPoller, Sent
from bot.settings.durations import format_duration
from bot.store.db import Database
from bot.store.slots import Slot
from bot.store.tables import incidents, page_receipts, page_sends, pages

log = structlog.get_logger(__name__)

POLL_EVERY = timedelta(seconds=30)
POLL_SINCE = timedelta(hours=2)
"""Sends older than this are not asked about any more."""
POLL_SETTLE = timedelta(seconds=10)
"""Sends younger than this are not asked about yet."""
POLL_BATCH = 50
"""Sends asked about per provider per pass."""
WAITING_FOR = timedelta(hours=1)
"""How long a report for an unknown send is looked at again."""
BATCH = 200


class ReceiptPass:
    def __init__(self, db: Database, clock: Clock, chains: Chains, receipts: Receipts) -> None:
        self.db, self.clock, self.chains, self.receipts = db, clock, chains, receipts
        self.slot = Slot(db, "page_receipts")

    async def run(self, now: datetime) -> int:
        """One pass; returns how many pages or sends it moved."""
        moved = await self.expire(now)
        moved += await self.sweep(now)
        polled = any(_poller(p.notifier) for chain in self.chains.values() for p in chain)
        if polled and await self.slot.claim(now, POLL_EVERY) is not None:
            moved += await self.poll(now)
        return moved

    async def expire(self, now: datetime) -> int:
        """Pages whose current send was not confirmed delivered in time go to the next
        provider at once; those of incidents no longer triggered stop waiting."""
        stmt = (
            select(pages, incidents.c.status.label("incident_status"))
            .select_from(pages.join(incidents, incidents.c.id == pages.c.incident_id))
            .where(and_(pages.c.status == "sent", pages.c.confirm_by <= now))
            .order_by(pages.c.confirm_by)
            .limit(BATCH)
        )
        moved = 0
        async with self.db.begin() as conn:
            for row in (await conn.execute(stmt)).all():
                held = and_(
                    pages.c.id == row.id,
                    pages.c.status == "sent",
                    pages.c.confirm_by == row.confirm_by,
                    pages.c.provider_pos == row.provider_pos,
                )
                if row.incident_status != "triggered":
                    await conn.execute(update(pages).where(held).values(confirm_by=None))
                    continue
                within = format_duration(row.confirm_by - row.sent_at) if row.sent_at else "?"
                reason = f"not confirmed delivered by {row.provider} within {within}"
                done = await conn.execute(
                    update(pages)
                    .where(held)
                    .values(
                        status="pending",
                        reason=reason[:256],
                        provider_pos=pages.c.provider_pos + 1,
                        next_attempt_at=now,
                        confirm_by=None,
                    )
                )
                if not done.rowcount:
                    continue
                moved += 1
                await conn.execute(
                    update(page_sends)
                    .where(
                        and_(
                            page_sends.c.page_id == row.id,
                            page_sends.c.position == row.provider_pos,
                            page_sends.c.status == "sent",
                        )
                    )
                    .values(status="superseded", detail=within, updated_at=now)
                )
                await failover.show(conn, row.incident_id, now)
                log.warning("page not confirmed delivered: next provider", page=row.id)
        return moved

    async def sweep(self, now: datetime) -> int:
        """Reports kept before their send was recorded, applied now that it is."""
        stmt = (
            select(page_receipts, page_sends.c.id.label("send_id"))
            .select_from(
                page_receipts.join(
                    page_sends,
                    and_(
                        page_sends.c.provider == page_receipts.c.provider,
                        page_sends.c.provider_ref == page_receipts.c.provider_ref,
                    ),
                )
            )
            .where(
                and_(
                    page_receipts.c.applied.is_(False),
                    page_receipts.c.received_at > now - WAITING_FOR,
                )
            )
            .order_by(page_receipts.c.id)
            .limit(BATCH)
        )
        applied = 0
        async with self.db.begin() as conn:
            for row in (await conn.execute(stmt)).all():
                if not await mark_applied(conn, row.id):
                    continue
                send = (
                    await conn.execute(select(page_sends).where(page_sends.c.id == row.send_id))
                ).one()
                await self.receipts.apply(conn, send, row.status, row.detail, row.at, now)
                applied += 1
        return applied

    async def poll(self, now: datetime) -> int:
        """Ask each polled provider about its sends still waiting for a report."""
        found = 0
        for channel, chain in self.chains.items():
            for provider in chain:
                poller = _poller(provider.notifier)
                if poller is None:
                    continue
                sends = await self._waiting(channel, provider.name, now)
                if not sends:
                    continue
                try:
                    reports = await poller.statuses(sends)
                except RetryableDelivery as exc:
                    log.warning("delivery reports not read", provider=provider.name, error=str(exc))
                    continue
                found += await self.receipts.record(reports)
        return found

    async def _waiting(self, channel: str, name: str, now: datetime) -> list[Sent]:
        stmt = (
            select(page_sends.c.provider_ref, pages.c.address, page_sends.c.sent_at)
            .select_from(page_sends.join(pages, pages.c.id == page_sends.c.page_id))
            .where(
                and_(
                    page_sends.c.provider == name,
                    pages.c.channel == channel,
                    page_sends.c.status == "sent",
                    page_sends.c.sent_at > now - POLL_SINCE,
                    page_sends.c.sent_at <= now - POLL_SETTLE,
                )
            )
            .order_by(page_sends.c.sent_at)
            .limit(POLL_BATCH)
        )
        async with self.db.connect() as conn:
            return [Sent(r.provider_ref, r.address, r.sent_at) for r in await conn.execute(stmt)]


def _poller(notifier: Any) -> ReceiptPoller | None:
    return notifier if callable(getattr(notifier, "statuses", None)) else None
