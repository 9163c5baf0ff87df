"""The writes that move a phone page along its providers, shared by the sender, the delivery
reports and the sweep: each send recorded in `page_sends`, a report applied to its send and
page, a page handed to the next provider, and an undelivered P0 page running the next
escalation step at once.

Every write to a page is conditional on the state it was read in (status, position,
`confirm_by`), so two replicas, or a report racing the sweep, never both move a page on: the
first UPDATE wins and the other matches no row.

What is not closed: a provider whose ``delivered`` report arrives after the page's
`confirm_by` has passed (and the sweep has handed the page on) has its message delivered and
the next provider's too. The report is still recorded on its send; `confirm_within` is the
knob that trades a late duplicate against a late page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.incidents.repository import redraw_soon
from bot.model import Tier
from bot.paging.chains import Chains, order
from bot.ports import Provider
from bot.settings.schema import User
from bot.store.tables import escalation_log, escalations, incidents, page_sends, pages

log = structlog.get_logger(__name__)

FAULTS = frozenset({"failed", "undelivered"})
"""Reports that blame the provider (or carrier): the next provider is tried."""


def providers_for(chains: Chains, users: Mapping[str, User], page: Any) -> list[Provider]:
    """The providers to try for a page (a `pages` row), in order: the person's own choices
    first (``contact.providers``), then the channel's, only those that take the number."""
    user = users.get(page.recipient)
    first = user.contact.providers.get(page.channel, ()) if user is not None else ()
    return order(chains.get(page.channel, ()), page.address, first)


async def add_send(
    conn: AsyncConnection,
    page: Any,
    provider: str,
    position: int,
    ref: str,
    status: str,
    detail: str,
    now: datetime,
) -> int:
    """Record one provider send (or failed attempt) of `page`; returns its id."""
    result = await conn.execute(
        page_sends.insert().values(
            page_id=page.id,
            incident_id=page.incident_id,
            provider=provider,
            position=position,
            provider_ref=ref[:128],
            status=status,
            detail=detail[:256],
            sent_at=now,
            updated_at=now,
        )
    )
    key = result.inserted_primary_key
    return int(key[0]) if key else 0


async def show(conn: AsyncConnection, incident_id: int, now: datetime) -> None:
    """Have the incident's card redrawn (the engine's card pass queues the edit)."""
    await redraw_soon(conn, incident_id, now)


async def apply(
    conn: AsyncConnection,
    send: Any,
    status: str,
    detail: str,
    at: datetime,
    now: datetime,
    has_next: bool | None,
) -> bool:
    """Apply a provider's report to its send (a `page_sends` row) and, when that send is its
    page's current one, to the page. `has_next`: whether a provider follows the send's in the
    page's order (None: unknown, the sender decides once the page comes back to it). Returns
    whether anything changed."""
    forward = status != "sent" and send.status == "sent"
    if not forward and not (status == "delivered" and send.status != "delivered"):
        return False  # a repeat, or a report older than what the send already says
    moved = await conn.execute(
        update(page_sends)
        .where(and_(page_sends.c.id == send.id, page_sends.c.status == send.status))
        .values(status=status, detail=detail[:256], updated_at=now)
    )
    if not moved.rowcount:  # another report on it was applied meanwhile
        return False
    current = and_(
        pages.c.id == send.page_id,
        pages.c.status == "sent",
        pages.c.provider_pos == send.position,
    )
    page = (await conn.execute(select(pages).where(current))).first()
    if page is None:  # a send the page has moved on from: kept for the record
        await show(conn, send.incident_id, now)
        return True
    values: dict[str, Any] = {"delivery": status, "confirm_by": None}
    if status == "delivered":
        values["delivered_at"] = at
    elif status in FAULTS and has_next is not False:
        why = f"{status} by {send.provider}" + (f" ({detail})" if detail else "")
        values.update(
            status="pending",
            reason=why[:256],
            provider_pos=pages.c.provider_pos + 1,
            next_attempt_at=now,
        )
    moved = await conn.execute(update(pages).where(current).values(**values))
    # not delivered and not handed on: no answer or busy (the person's doing, whatever
    # provider follows), or a fault on the last provider
    ended = status != "delivered" and "provider_pos" not in values
    if moved.rowcount and ended:
        await escalate_undelivered(conn, page, status, now)
    await show(conn, send.incident_id, now)
    return True


async def escalate_undelivered(
    conn: AsyncConnection, page: Any, status: str, now: datetime
) -> bool:
    """An undelivered page of a triggered P0 incident from the escalation's latest step: the
    next step runs now rather than after its delay. Returns whether it was moved."""
    incident = (
        await conn.execute(
            select(incidents.c.tier, incidents.c.status).where(incidents.c.id == page.incident_id)
        )
    ).first()
    if incident is None or incident.tier != Tier.P0 or incident.status != "triggered":
        return False
    esc = (
        await conn.execute(select(escalations).where(escalations.c.incident_id == page.incident_id))
    ).first()
    if esc is None or esc.state != "active" or esc.next_at is None or esc.next_at <= now:
        return False
    latest = (
        await conn.execute(
            select(escalation_log.c.cycle, escalation_log.c.loop, escalation_log.c.step)
            .where(
                and_(
                    escalation_log.c.incident_id == page.incident_id,
                    escalation_log.c.kind == "step",
                )
            )
            .order_by(escalation_log.c.id.desc())
            .limit(1)
        )
    ).first()
    ran = (page.cycle, page.loop, page.step)
    if latest is None or tuple(latest) != ran or esc.cycle != page.cycle:
        return False
    moved = await conn.execute(
        update(escalations)
        .where(
            and_(
                escalations.c.incident_id == page.incident_id,
                escalations.c.state == "active",
                escalations.c.next_at == esc.next_at,
            )
        )
        .values(next_at=now, updated_at=now)
    )
    if not moved.rowcount:
        return False
    await conn.execute(
        escalation_log.insert().values(
            incident_id=page.incident_id,
            cycle=page.cycle,
            loop=page.loop,
            step=page.step,
            kind="undelivered",
            due_at=now,
            ran_at=now,
            detail={"recipient": page.recipient, "channel": page.channel, "status": status},
        )
    )
    log.warning("undelivered P0 page: next step now", incident=page.incident_id, page=page.id)
    return True
