"""On-call at run time: who is on call, overrides, swaps and takes (`bot.oncall.swaps`), and the
schedule pass that announces hand-offs and warns about gaps. The maths is `bot.oncall`'s; this
module adds the database."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import UserError
from bot.model import ActionKind, Reply
from bot.oncall import Segment, gaps, next_on_call, on_call
from bot.oncall.store import active_overrides, add_override
from bot.oncall.swaps import SwapDesk
from bot.outbox.enqueue import Outbox
from bot.settings import Settings
from bot.settings.oncall import Schedule
from bot.store.db import Database
from bot.store.tables import schedule_state

if TYPE_CHECKING:
    from bot.services import Context

GAP_CHECK_EVERY = timedelta(hours=1)


def local(moment: datetime | None, zone: str) -> str:
    """A time as the schedule's people read it: ``2026-03-09 09:00 CST``."""
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


class OnCallService:
    def __init__(
        self, settings: Settings, db: Database, outbox: Outbox, chat_platforms: Collection[str]
    ) -> None:
        self.settings, self.db, self.outbox = settings, db, outbox
        self.chat_platforms = frozenset(chat_platforms)
        self.names = {u.id: u.name or u.id for u in settings.users}

    def name(self, user_id: str | None) -> str:
        return self.names.get(user_id, user_id) if user_id else "-"

    def schedule(self, name: str) -> Schedule:
        found = self.settings.schedules.get(name)
        if found is None:
            raise UserError(
                "oncall.unknown_schedule",
                schedule=name,
                known=", ".join(self.settings.schedules) or "-",
            )
        return found

    def schedules_of(self, user_id: str) -> list[str]:
        return [
            name
            for name, s in self.settings.schedules.items()
            if any(user_id in r.participants for r in s.rotations)
        ]

    def direct(self, user_id: str) -> list[str]:
        """The chats that reach `user_id` privately."""
        user = next((u for u in self.settings.users if u.id == user_id), None)
        platforms = [p for p in (user.identities if user else {}) if p in self.chat_platforms]
        if not platforms and "console" in self.chat_platforms:
            platforms = ["console"]
        return [f"{p}:@{user_id}" for p in platforms]

    async def who(
        self, conn: AsyncConnection, name: str, now: datetime
    ) -> tuple[Segment | None, Segment | None]:
        schedule = self.schedule(name)
        overrides = (await active_overrides(conn, now, name)).get(name, [])
        return on_call(schedule, now, overrides), next_on_call(schedule, now, overrides)

    async def override(
        self,
        conn: AsyncConnection,
        name: str,
        user_id: str,
        start: datetime,
        end: datetime,
        *,
        by: str,
        reason: str,
        now: datetime,
    ) -> int:
        self.schedule(name)
        found = await add_override(conn, name, user_id, start, end, by=by, reason=reason, now=now)
        await self.recheck(conn, name, now)
        return found

    async def recheck(self, conn: AsyncConnection, name: str, now: datetime) -> None:
        """Make the schedule pass look again now (an override may change who is on call)."""
        await conn.execute(
            update(schedule_state).where(schedule_state.c.schedule == name).values(until=now)
        )

    # -- swaps, covers and takes (`bot.oncall.swaps`) --------------------------------------

    async def request_swap(
        self,
        conn: AsyncConnection,
        name: str,
        requester: str,
        other: str,
        now: datetime,
        chat: str,
    ) -> int:
        return await SwapDesk(self).request_swap(conn, name, requester, other, now, chat)

    async def request_take(
        self,
        conn: AsyncConnection,
        name: str,
        taker: str,
        owner: str,
        at: datetime | None,
        now: datetime,
        chat: str,
    ) -> tuple[int, Segment]:
        return await SwapDesk(self).request_take(conn, name, taker, owner, at, now, chat)

    async def decide_swap(self, ctx: Context[object], swap_id: int, action: ActionKind) -> Reply:
        return await SwapDesk(self).decide(ctx, swap_id, action)

    # -- the schedule pass ------------------------------------------------------------------

    async def run_due(self, now: datetime) -> None:
        """Announce hand-offs that came due and warn about gaps ahead (engine pass)."""
        if not self.settings.schedules:
            return
        async with self.db.begin() as conn:
            await conn.execute(
                self.db.insert(schedule_state)
                .values(
                    [
                        {"schedule": name, "warned": [], "updated_at": now}
                        for name in self.settings.schedules
                    ]
                )
                .on_conflict_do_nothing()
            )
        async with self.db.begin() as conn:
            stmt = self.db.for_update(
                select(schedule_state).where(
                    schedule_state.c.schedule.in_(list(self.settings.schedules))
                ),
                skip_locked=True,
            )
            states = (await conn.execute(stmt)).all()
            if not states:
                return
            overrides = await active_overrides(conn, now)
            for state in states:
                schedule = self.settings.schedules[state.schedule]
                mine = overrides.get(state.schedule, [])
                if state.until is None or state.until <= now:
                    await self._handoff(conn, state, schedule, mine, now)
                checked = state.gaps_checked_at
                if checked is None or checked + GAP_CHECK_EVERY <= now:
                    await self._gaps(conn, state, schedule, mine, now)

    async def _handoff(
        self, conn: AsyncConnection, state: Any, schedule: Schedule, overrides: Any, now: datetime
    ) -> None:
        current = on_call(schedule, now, overrides)
        user = current.user if current else None
        if current is not None:
            until = current.end
        else:
            upcoming = next_on_call(schedule, now, overrides)
            until = upcoming.start if upcoming else now + timedelta(hours=1)
        await conn.execute(
            update(schedule_state)
            .where(schedule_state.c.schedule == state.schedule)
            .values(user_id=user, until=until, updated_at=now)
        )
        if user == state.user_id:
            return
        if not schedule.announce:
            return
        zone = schedule.time_zone
        params = {
            "schedule": state.schedule,
            "user": self.name(user),
            "until": local(until, zone),
            "previous": self.name(state.user_id),
        }
        key = "oncall.handoff" if user else "oncall.handoff_nobody"
        if state.user_id is None and state.until is None:
            key += "_first"
        await self.outbox.text(conn, [str(d) for d in schedule.announce], key, params, now=now)

    async def _gaps(
        self, conn: AsyncConnection, state: Any, schedule: Schedule, overrides: Any, now: datetime
    ) -> None:
        horizon = now + self.settings.paging.gap_horizon
        found = gaps(schedule, now, horizon, overrides)
        warned = set(state.warned or [])
        keys = [_gap_key(g, now, horizon) for g in found]
        fresh = [g for g, key in zip(found, keys, strict=True) if key not in warned]
        await conn.execute(
            update(schedule_state)
            .where(schedule_state.c.schedule == state.schedule)
            .values(gaps_checked_at=now, warned=keys, updated_at=now)
        )
        if not fresh or not schedule.announce:
            return
        zone = schedule.time_zone
        spans = "; ".join(f"{local(g.start, zone)} → {local(g.end, zone)}" for g in fresh[:5])
        await self.outbox.text(
            conn,
            [str(d) for d in schedule.announce],
            "oncall.gap_warning",
            {"schedule": state.schedule, "count": len(fresh), "spans": spans},
            now=now,
        )


def _gap_key(gap: Segment, now: datetime, horizon: datetime) -> str:
    """Names a gap the same way at every check, though the window it is seen in moves."""
    start = "now" if gap.start <= now else gap.start.isoformat()
    end = "later" if gap.end >= horizon else gap.end.isoformat()
    return f"{start}/{end}"
