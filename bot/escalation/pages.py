"""The pages written, and questions about them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.settings.oncall import Channel
from bot.store.tables import pages


async def was_paged(conn: AsyncConnection, incident_id: int, user_id: str) -> bool:
    """True when `user_id` was paged for the incident: being asked to respond lets a person
    acknowledge it even without the grant."""
    stmt = (
        select(pages.c.id)
        .where(and_(pages.c.incident_id == incident_id, pages.c.recipient == user_id))
        .limit(1)
    )
    return (await conn.execute(stmt)).first() is not None


@dataclass(frozen=True, slots=True)
class StoredPage:
    """One page to one person on one channel (`bot.store.tables.pages`), typed: written by an
    escalation step, then claimed, sent and recorded by `bot.escalation.pager.PageSender`."""

    id: int
    incident_id: int
    cycle: int
    loop: int
    step: int
    recipient: str
    """The Tocsin user paged."""
    channel: Channel
    """``sms``, ``voice`` or ``email``."""
    address: str
    status: str
    """pending · sending · sent · failed · cancelled"""
    reason: str
    provider: str
    provider_ref: str
    attempts: int
    next_attempt_at: datetime | None
    claimed_until: datetime | None
    created_at: datetime
    sent_at: datetime | None
    provider_pos: int
    """Position, in the number's provider order, of the provider sending next (or that sent
    last): failover moves it on."""
    confirm_by: datetime | None
    """When a send not yet confirmed delivered moves to the next provider."""
    delivery: str
    """The current send's last report: "" (none yet), delivered, failed, undelivered,
    no_answer, busy."""
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> StoredPage:
        """The page a full `pages` row (as selected or returned) stores."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})
