"""Whether a chat page reached its chat: a chat page is an outbox message (the incident's card,
or a reminder under it where the card was shown already), so it is delivered when that
message was sent — or, once sent messages are pruned, when the card was posted there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.incidents.status import card_ref
from bot.store.tables import card_posts, outbox


@dataclass(frozen=True, slots=True)
class ChatDelivery:
    status: str
    """``delivered``, ``failed`` or ``queued``."""
    at: datetime | None = None


async def chat_delivery(conn: AsyncConnection, incident_id: int, page: Any) -> ChatDelivery:
    """How chat page `page` (a `pages` row: `address` the chats, `created_at`) fared."""
    dests = [d for d in str(page.address).split(",") if d]
    ref = card_ref(incident_id)
    sent = await conn.execute(
        select(outbox.c.status, outbox.c.sent_at).where(
            outbox.c.destination.in_(dests),
            outbox.c.created_at >= page.created_at,
            or_(
                outbox.c.card_ref == ref,
                and_(outbox.c.kind == "text", outbox.c.created_at == page.created_at),
            ),
        )
    )
    rows = sent.all()
    times = [r.sent_at for r in rows if r.status == "sent" and r.sent_at is not None]
    if times:
        return ChatDelivery("delivered", min(times))
    if rows and all(r.status == "failed" for r in rows):
        return ChatDelivery("failed")
    if not rows:  # the messages were pruned: the card's post says when it arrived
        posted = await conn.execute(
            select(card_posts.c.created_at).where(
                card_posts.c.card_ref == ref, card_posts.c.destination.in_(dests)
            )
        )
        found = [r.created_at for r in posted]
        if found:
            return ChatDelivery("delivered", max(min(found), page.created_at))
    return ChatDelivery("queued")
