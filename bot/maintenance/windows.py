"""Maintenance windows as the core reads them: one row of `maintenance_windows`, whether it is
active at a moment, and which active window covers each of a batch of incidents (one query).

A window is active from `starts_at` until its end: `ended_at` when someone ended it early,
else `ends_at`; a window with neither has not ended yet. Its `service` and `environment` may be
``*`` (any).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import incidents, maintenance_windows

ANY = "*"
MANUAL, DEPLOY, RECURRING = "manual", "deploy", "recurring"
CONFIGURATION = "configuration"
"""Who `created_by` names for a recurring window's occurrences."""

_W = maintenance_windows.c


@dataclass(frozen=True, slots=True)
class Window:
    id: int
    kind: str
    name: str
    service: str
    environment: str
    reason: str
    created_by: str
    version: str
    starts_at: datetime
    ends_at: datetime | None
    ended_at: datetime | None = None
    ended_by: str | None = None
    rolling_out: bool = False
    """A deploy window whose run has not ended: `ends_at` is only the latest it may end."""

    @classmethod
    def of(cls, row: Any) -> Window:
        return cls(
            id=row.id,
            kind=row.kind,
            name=row.name,
            service=row.service,
            environment=row.environment,
            reason=row.reason,
            created_by=row.created_by,
            version=row.version,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            ended_at=row.ended_at,
            ended_by=row.ended_by,
        )

    @property
    def until(self) -> datetime | None:
        """When it ends (or ended); None: not known yet."""
        return self.ended_at or self.ends_at

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now and (self.until is None or now < self.until)

    def covers(self, service: str, environment: str) -> bool:
        return self.service in (ANY, service) and self.environment in (ANY, environment)


def active_at(now: datetime) -> ColumnElement[bool]:
    """The SQL for "active at `now`"."""
    return and_(
        _W.starts_at <= now,
        or_(_W.ended_at.is_(None), _W.ended_at > now),
        or_(_W.ends_at.is_(None), _W.ends_at > now),
    )


def lasting(windows: Iterable[Window]) -> Window | None:
    """Of several windows, the one that lasts longest (one not known to end first; then the
    oldest), so an incident is held once, until the last of them ends."""
    far = datetime.max.replace(tzinfo=None)

    def key(w: Window) -> tuple[datetime, int]:
        until = w.until.replace(tzinfo=None) if w.until is not None else far
        return (until, -w.id)

    return max(windows, key=key, default=None)


@dataclass(frozen=True, slots=True)
class Meeting:
    """What the escalation pass knows of an incident and maintenance: the window its episode
    is marked with now (and when that one ends or ended), and the active window that covers it
    (if any)."""

    marked: int | None
    window: Window | None
    marked_until: datetime | None = None


async def meetings(conn: AsyncConnection, ids: Sequence[int], now: datetime) -> dict[int, Meeting]:
    """For each incident in `ids`: its mark and the longest active window covering its service
    and environment, in one query."""
    if not ids:
        return {}
    i, mark = incidents.c, maintenance_windows.alias("mark")
    join = and_(
        or_(_W.service == ANY, _W.service == i.service),
        or_(_W.environment == ANY, _W.environment == i.environment),
        active_at(now),
    )
    stmt = (
        select(
            i.id.label("incident_id"),
            i.maintenance_id,
            func.coalesce(mark.c.ended_at, mark.c.ends_at).label("marked_until"),
            maintenance_windows,
        )
        .select_from(
            incidents.outerjoin(maintenance_windows, join).outerjoin(
                mark, mark.c.id == i.maintenance_id
            )
        )
        .where(i.id.in_(list(ids)))
    )
    marks: dict[int, tuple[int | None, datetime | None]] = {}
    found: dict[int, list[Window]] = {}
    for row in (await conn.execute(stmt)).all():
        marks[row.incident_id] = (row.maintenance_id, row.marked_until)
        found.setdefault(row.incident_id, [])
        if row.id is not None:
            found[row.incident_id].append(Window.of(row))
    return {
        key: Meeting(mark_id, lasting(found[key]), until) for key, (mark_id, until) in marks.items()
    }


RECHECK = timedelta(minutes=1)
"""How long paging is held at a time for a deploy window, whose end moves (earlier when the
rollout ends early): held escalations look again this often rather than sleep to a stale end."""


def hold_until(window: Window, now: datetime) -> datetime:
    """When an escalation held by `window` looks again."""
    until = window.until
    if until is None or window.kind == DEPLOY:
        return min(until, now + RECHECK) if until is not None else now + RECHECK
    return until


async def load(conn: AsyncConnection, window_id: int) -> Window | None:
    row = (await conn.execute(select(maintenance_windows).where(_W.id == window_id))).first()
    return Window.of(row) if row is not None else None
