"""Questions about the pages already written."""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

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
