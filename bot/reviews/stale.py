"""Reviews whose follow-up items stay open: what the noise report lists, so an incident's
lessons are not left half done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import followups, incidents, runs


@dataclass(frozen=True, slots=True)
class StaleReview:
    incident_id: int | None
    run_id: int | None
    title: str
    service: str
    open_items: int
    oldest: datetime
    """When its oldest open item was written."""


async def stale_reviews(
    conn: AsyncConnection, before: datetime, services: tuple[str, ...] = ()
) -> list[StaleReview]:
    """Reviews with follow-up items still open that were written before `before` (e.g. a week
    ago), oldest first; only those of `services` when some are given."""
    oldest = func.min(followups.c.created_at)
    # A review of a rollback a health gate started has a run but no incident: its service
    # and title come from the run then.
    service = func.coalesce(incidents.c.service, runs.c.service, "")
    title = func.coalesce(
        incidents.c.title, runs.c.action + " " + runs.c.service + " " + runs.c.version, ""
    )
    query = (
        select(
            followups.c.incident_id,
            followups.c.run_id,
            func.count().label("open_items"),
            oldest.label("oldest"),
            title.label("title"),
            service.label("service"),
        )
        .select_from(
            followups.outerjoin(incidents, incidents.c.id == followups.c.incident_id).outerjoin(
                runs, runs.c.id == followups.c.run_id
            )
        )
        .where(and_(followups.c.done.is_(False), followups.c.created_at < before))
        .group_by(
            followups.c.incident_id,
            followups.c.run_id,
            incidents.c.title,
            incidents.c.service,
            runs.c.action,
            runs.c.service,
            runs.c.version,
        )
        .order_by(oldest)
    )
    if services:
        query = query.where(service.in_(services))
    rows = (await conn.execute(query)).all()
    return [
        StaleReview(
            row.incident_id,
            row.run_id,
            row.title or "",
            row.service or "",
            row.open_items,
            row.oldest,
        )
        for row in rows
    ]
