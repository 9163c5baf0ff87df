"""The fairness report: per person over a period, hours on call and how many of them fell
outside working hours in the person's own zone, pages received, and the shifts that changed
hands (swaps, covers, takes, overrides).

Hours come from the schedules as configured now, with the overrides stored for the period (a
rotation edited during the period is read as it stands today). Every query is bounded by the
period; the timeline is computed, not stored, so a long period costs time, not rows."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import UserError
from bot.oncall import Override, timeline
from bot.oncall.model import span
from bot.prefs import user_scope
from bot.reports.fairness_format import render
from bot.reports.fairness_hours import is_off_hours, off_hours
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import pages, preferences, schedule_overrides, swap_requests

CHANGED_HANDS = re.compile(r"^(swap|take) #\d+$")
"""The reason of an override written when a swap, cover or take was accepted: counted as that,
not again as an override."""


@dataclass(slots=True)
class PersonTally:
    """One person's numbers over the period."""

    user: str
    name: str
    zone: str
    on_call: timedelta = timedelta(0)
    off_hours: timedelta = timedelta(0)
    pages: int = 0
    pages_off_hours: int = 0
    incidents: set[int] = field(default_factory=set)
    swaps: int = 0
    covers: int = 0
    takes: int = 0
    given_away: int = 0
    overrides: int = 0


@dataclass(frozen=True, slots=True)
class Fairness:
    since: datetime
    until: datetime
    schedules: tuple[str, ...]
    people: tuple[PersonTally, ...]
    """Most hours on call first."""


def chosen_schedules(settings: Settings, names: Sequence[str]) -> tuple[str, ...]:
    """The schedules asked for (all when none is named); an unknown name is refused."""
    known = settings.schedules
    for name in names:
        if name not in known:
            raise UserError("oncall.unknown_schedule", schedule=name, known=", ".join(known) or "-")
    return tuple(dict.fromkeys(names)) if names else tuple(known)


async def zones_of(conn: AsyncConnection, users: Collection[str], default: str) -> dict[str, str]:
    """Each person's zone: their stored choice (`/tz`), else `default`."""
    scopes = {user_scope(u): u for u in users}
    stmt = select(preferences.c.scope, preferences.c.timezone).where(
        preferences.c.scope.in_(list(scopes))
    )
    found = {scopes[row.scope]: row.timezone for row in await conn.execute(stmt) if row.timezone}
    return {u: found.get(u, default) for u in users}


async def gather(
    settings: Settings,
    conn: AsyncConnection,
    *,
    since: datetime,
    until: datetime,
    schedules: Sequence[str] = (),
) -> Fairness:
    """The report over [since, until) for `schedules` (all when empty)."""
    since, until = span(since, until)
    names = chosen_schedules(settings, schedules)
    overrides = await _overrides(conn, names, since, until)
    segments = [
        s
        for name in names
        for s in timeline(settings.schedules[name], since, until, overrides.get(name, ()))
        if s.user is not None
    ]
    known = {u.id: u.name or u.id for u in settings.users}
    people: set[str] = {
        p for n in names for r in settings.schedules[n].rotations for p in r.participants
    }
    people |= {s.user for s in segments if s.user is not None}
    people |= {o.user for name in names for o in overrides.get(name, ())}
    changes = await _changes(conn, names, since, until)
    people |= {r.requester for r in changes} | {r.other for r in changes}
    paged = await _pages(conn, list(known), since, until)
    if not schedules:
        people |= {row.recipient for row in paged}
    zones = await zones_of(conn, people, settings.tocsin.timezone)
    tally = {u: PersonTally(u, known.get(u, u), zones[u]) for u in people}
    for segment in segments:
        assert segment.user is not None
        mine = tally[segment.user]
        mine.on_call += segment.end - segment.start
        mine.off_hours += off_hours(segment.start, segment.end, ZoneInfo(mine.zone))
    for row in paged:
        if row.recipient in tally:
            mine = tally[row.recipient]
            mine.pages += 1
            mine.incidents.add(int(row.incident_id))
            mine.pages_off_hours += is_off_hours(row.sent_at, ZoneInfo(mine.zone))
    for row in changes:
        _count_change(tally, row)
    for name in names:
        for item in overrides.get(name, ()):
            if since <= item.start < until and not CHANGED_HANDS.match(item.reason):
                tally[item.user].overrides += 1
    ordered = sorted(tally.values(), key=lambda p: (-p.on_call, p.user))
    return Fairness(since, until, names, tuple(ordered))


def _count_change(tally: dict[str, PersonTally], row: Any) -> None:
    kind, requester, other = row.kind, row.requester, row.other
    if kind == "swap":
        tally[requester].swaps += 1
        tally[other].swaps += 1
    elif kind == "cover":  # the requester's shift, worked by the other
        tally[other].covers += 1
        tally[requester].given_away += 1
    elif kind == "take":  # the other's shift, worked by the requester
        tally[requester].takes += 1
        tally[other].given_away += 1


async def _overrides(
    conn: AsyncConnection, names: Sequence[str], since: datetime, until: datetime
) -> dict[str, list[Override]]:
    """Overrides meeting the period, by schedule, oldest first (a later one wins)."""
    stmt = (
        select(schedule_overrides)
        .where(
            and_(
                schedule_overrides.c.schedule.in_(list(names)),
                schedule_overrides.c.ends_at > since,
                schedule_overrides.c.starts_at < until,
            )
        )
        .order_by(schedule_overrides.c.id)
    )
    found: dict[str, list[Override]] = {}
    for row in await conn.execute(stmt):
        found.setdefault(row.schedule, []).append(
            Override(row.user_id, row.starts_at, row.ends_at, str(row.id), row.reason)
        )
    return found


async def _changes(
    conn: AsyncConnection, names: Sequence[str], since: datetime, until: datetime
) -> list[Any]:
    """Swaps, covers and takes accepted during the period."""
    stmt = select(swap_requests.c.kind, swap_requests.c.requester, swap_requests.c.other).where(
        and_(
            swap_requests.c.schedule.in_(list(names)),
            swap_requests.c.status == "accepted",
            swap_requests.c.decided_at >= since,
            swap_requests.c.decided_at < until,
        )
    )
    return list((await conn.execute(stmt)).all())


async def _pages(
    conn: AsyncConnection, users: Sequence[str], since: datetime, until: datetime
) -> list[Any]:
    """Pages that went out to `users` during the period, on any channel."""
    stmt = select(pages.c.recipient, pages.c.incident_id, pages.c.sent_at).where(
        and_(
            pages.c.recipient.in_(list(users)),
            pages.c.sent_at >= since,
            pages.c.sent_at < until,
        )
    )
    return list((await conn.execute(stmt)).all())


async def fairness_text(
    settings: Settings,
    db: Database,
    *,
    since: datetime,
    until: datetime,
    schedules: Sequence[str],
    fmt: str,
    lang: str,
) -> str:
    """The report as Markdown, CSV or JSON (`tocsin report fairness`; docs/fairness.md)."""
    async with db.connect() as conn:
        report = await gather(settings, conn, since=since, until=until, schedules=schedules)
    return render(report, fmt, lang, settings.tocsin.timezone)
