"""On-call at run time: who is on call, overrides, swaps, and the schedule pass that announces
hand-offs and warns about gaps. The maths is `bot.oncall`'s; this module adds the database."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import UserError
from bot.i18n import t
from bot.model import ActionKind, Reply
from bot.oncall import Segment, gaps, next_on_call, on_call, shifts_of
from bot.oncall.store import active_overrides, add_override
from bot.outbox.enqueue import Outbox
from bot.settings import Settings
from bot.settings.oncall import Schedule
from bot.store.db import Database
from bot.store.tables import schedule_state, swap_requests

if TYPE_CHECKING:
    from bot.services import Context

HORIZON = timedelta(days=35)
SWAP_TTL = timedelta(hours=24)
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
        await self._recheck(conn, name, now)
        return found

    async def _recheck(self, conn: AsyncConnection, name: str, now: datetime) -> None:
        """Make the schedule pass look again now (an override may change who is on call)."""
        await conn.execute(
            update(schedule_state).where(schedule_state.c.schedule == name).values(until=now)
        )

    # -- swaps ------------------------------------------------------------------------------

    async def request_swap(
        self,
        conn: AsyncConnection,
        name: str,
        requester: str,
        other: str,
        now: datetime,
        chat: str,
    ) -> int:
        schedule = self.schedule(name)
        if other == requester:
            raise UserError("oncall.swap_self")
        overrides = (await active_overrides(conn, now, name)).get(name, [])
        mine = shifts_of(schedule, requester, now, now + HORIZON, overrides)
        if not mine:
            raise UserError("oncall.no_shift", user=requester, schedule=name)
        given = mine[0]
        theirs = shifts_of(schedule, other, given.end, now + HORIZON, overrides)
        taken = theirs[0] if theirs else None
        dests = list(dict.fromkeys([chat, *self.direct(other)]))
        result = await conn.execute(
            swap_requests.insert()
            .values(
                schedule=name,
                requester=requester,
                other=other,
                shift_start=max(given.start, now),
                shift_end=given.end,
                other_start=taken.start if taken else None,
                other_end=taken.end if taken else None,
                status="pending",
                destinations=dests,
                created_at=now,
                expires_at=min(now + SWAP_TTL, given.end),
            )
            .returning(swap_requests.c.id)
        )
        swap_id = int(result.scalar_one())
        await self.outbox.card(conn, f"swap:{swap_id}", dests, priority=1, now=now)
        return swap_id

    async def decide_swap(self, ctx: Context[object], swap_id: int, action: ActionKind) -> Reply:
        row = (
            await ctx.conn.execute(
                self.db.for_update(select(swap_requests).where(swap_requests.c.id == swap_id))
            )
        ).first()
        if row is None or action not in (ActionKind.ACCEPT, ActionKind.DECLINE):
            raise UserError("error.bad_card")
        me = ctx.person.id
        params = {
            "id": swap_id,
            "user": ctx.person.display,
            "other": self.name(row.other),
            "requester": self.name(row.requester),
        }
        if row.status != "pending":
            return Reply(t(f"swap.already.{row.status}", ctx.lang, **params), private=True)
        if row.expires_at <= ctx.now:
            await self._decide(ctx.conn, row, "expired", ctx.now)
            return Reply(t("swap.already.expired", ctx.lang, **params), private=True)
        if me not in (row.other, row.requester) or (
            action == ActionKind.ACCEPT and me != row.other
        ):
            raise UserError("swap.not_yours", other=self.name(row.other))
        if action == ActionKind.DECLINE:
            await self._decide(ctx.conn, row, "declined", ctx.now)
            return Reply(t("swap.declined", ctx.lang, **params))
        reason = f"swap #{swap_id}"
        await add_override(
            ctx.conn,
            row.schedule,
            row.other,
            max(row.shift_start, ctx.now),
            row.shift_end,
            by=me,
            reason=reason,
            now=ctx.now,
        )
        if row.other_start is not None:
            await add_override(
                ctx.conn,
                row.schedule,
                row.requester,
                row.other_start,
                row.other_end,
                by=me,
                reason=reason,
                now=ctx.now,
            )
        await self._decide(ctx.conn, row, "accepted", ctx.now)
        await self._recheck(ctx.conn, row.schedule, ctx.now)
        return Reply(t("swap.accepted", ctx.lang, **params))

    async def _decide(self, conn: AsyncConnection, row: Any, status: str, now: datetime) -> None:
        await conn.execute(
            update(swap_requests)
            .where(swap_requests.c.id == row.id)
            .values(status=status, decided_at=now)
        )
        await self.outbox.card(conn, f"swap:{row.id}", row.destinations, priority=1, now=now)

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
