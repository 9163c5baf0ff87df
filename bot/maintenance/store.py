"""Opening, ending and listing maintenance windows (`/maint`), inside the caller's transaction.

Ending a window early also ends the paging it held back: escalations it paused until its end
are due at once, so an incident still firing pages the moment the window closes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import UserError
from bot.maintenance.windows import MANUAL, Window, active_at, load
from bot.store.db import Database
from bot.store.tables import escalations, incidents, maintenance_windows

_W = maintenance_windows.c
AHEAD = timedelta(hours=24)
"""How far ahead `/maint list` shows windows to come."""
LISTED = 50
"""The most windows one `/maint list` shows."""


async def open_window(
    conn: AsyncConnection,
    *,
    service: str,
    environment: str,
    reason: str,
    by: str,
    starts_at: datetime,
    ends_at: datetime,
) -> Window:
    """A manual window (``/maint start``) from `starts_at` to `ends_at`."""
    stmt = (
        maintenance_windows.insert()
        .values(
            kind=MANUAL,
            name="",
            service=service,
            environment=environment,
            reason=reason,
            created_by=by,
            version="",
            starts_at=starts_at,
            ends_at=ends_at,
            created_at=starts_at,
        )
        .returning(maintenance_windows)
    )
    return Window.of((await conn.execute(stmt)).one())


async def end_window(
    conn: AsyncConnection,
    db: Database,
    window_id: int,
    by: str,
    now: datetime,
    check: Callable[[Window], None] = lambda _window: None,
) -> tuple[Window, int]:
    """End window `window_id` now (``/maint end``); returns it as ended and how many held
    escalations it let go. One still to come is called off (this week's occurrence of a
    recurring window, say); one that is over is refused; `check` may refuse it too (raising),
    once the window is known."""
    row = (
        await conn.execute(db.for_update(select(maintenance_windows).where(_W.id == window_id)))
    ).first()
    if row is None:
        raise UserError("maint.unknown", id=window_id)
    window = Window.of(row)
    check(window)
    if window.until is not None and window.until <= now:
        raise UserError("maint.already_ended", id=window_id)
    await conn.execute(
        update(maintenance_windows).where(_W.id == window_id).values(ended_at=now, ended_by=by)
    )
    # escalations before incidents, the order the escalation pass locks them in
    released = await release(conn, window, now)
    # the cards of incidents it marked say it ended (a due card, see `Engine._due_cards`)
    await conn.execute(
        update(incidents)
        .where(and_(incidents.c.maintenance_id == window_id, incidents.c.status != "resolved"))
        .values(card_due_at=now)
    )
    ended = await load(conn, window_id)
    assert ended is not None
    return ended, released


async def release(conn: AsyncConnection, window: Window, now: datetime) -> int:
    """Make the escalations `window` holds due now. A held escalation waits until the window's
    end (see `bot.maintenance.windows.hold_until`) and its incident is marked with the window;
    a step merely scheduled later by its policy is left alone."""
    if window.until is None:
        return 0
    marked = select(incidents.c.id).where(incidents.c.maintenance_id == window.id)
    result = await conn.execute(
        update(escalations)
        .where(
            and_(
                escalations.c.incident_id.in_(marked),
                escalations.c.state == "active",
                escalations.c.next_at == window.until,
            )
        )
        .values(next_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)


async def current_and_upcoming(conn: AsyncConnection, now: datetime) -> list[Window]:
    """Windows active now or starting within `AHEAD`, soonest first."""
    stmt = (
        select(maintenance_windows)
        .where(
            or_(
                active_at(now),
                and_(_W.starts_at > now, _W.starts_at <= now + AHEAD, _W.ended_at.is_(None)),
            )
        )
        .order_by(_W.starts_at, _W.id)
        .limit(LISTED)
    )
    return [Window.of(row) for row in (await conn.execute(stmt)).all()]
