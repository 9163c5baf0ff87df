"""Run-time overrides and swap requests in the database (schedules themselves are settings)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.oncall import Override
from bot.store.tables import schedule_overrides


async def active_overrides(
    conn: AsyncConnection, now: datetime, schedule: str | None = None
) -> dict[str, list[Override]]:
    """Overrides not yet over, by schedule, oldest first (a later one wins where they meet)."""
    stmt = select(schedule_overrides).where(schedule_overrides.c.ends_at > now)
    if schedule is not None:
        stmt = stmt.where(schedule_overrides.c.schedule == schedule)
    found: dict[str, list[Override]] = defaultdict(list)
    for row in await conn.execute(stmt.order_by(schedule_overrides.c.id)):
        found[row.schedule].append(
            Override(row.user_id, row.starts_at, row.ends_at, str(row.id), row.reason)
        )
    return dict(found)


async def add_override(
    conn: AsyncConnection,
    schedule: str,
    user_id: str,
    start: datetime,
    end: datetime,
    *,
    by: str,
    reason: str,
    now: datetime,
) -> int:
    result = await conn.execute(
        schedule_overrides.insert()
        .values(
            schedule=schedule,
            user_id=user_id,
            starts_at=start,
            ends_at=end,
            created_by=by,
            reason=reason[:256],
            created_at=now,
        )
        .returning(schedule_overrides.c.id)
    )
    return int(result.scalar_one())
