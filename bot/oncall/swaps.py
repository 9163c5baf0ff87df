"""Shift swaps, covers and takes: one person asks, the other confirms with a button. The card
shows the request.

- swap: the requester's shift and the other's next one are traded;
- cover: the other works the requester's shift;
- take: the requester works the other's shift (`/oncall take`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.deploys.moments import Zone, stamp
from bot.errors import UserError
from bot.i18n import t
from bot.model import ActionKind, Button, ButtonStyle, Card, Field, Reply
from bot.oncall.model import Segment
from bot.oncall.store import active_overrides, add_override
from bot.oncall.timeline import shifts_of
from bot.statuses import badge
from bot.store.tables import swap_requests

if TYPE_CHECKING:
    from bot.oncall.service import OnCallService
    from bot.services import Context

HORIZON = timedelta(days=35)
"""How far ahead a swap or take looks for a shift."""
SWAP_TTL = timedelta(hours=24)
"""How long a request waits for its answer (never past the shift's end)."""


def when(moment: datetime | None, lang: str = "en", tz: Zone = UTC) -> str:
    return stamp(moment, lang, tz)


def shift_runs(segments: Iterable[Segment]) -> list[Segment]:
    """Touching segments of one person joined into shifts, whatever put them on call: their
    rotation's turn and an override straight after it are one stretch of duty to take."""
    out: list[Segment] = []
    for segment in segments:
        if segment.user is None:
            continue
        if out and out[-1].user == segment.user and out[-1].end == segment.start:
            last = out[-1]
            out[-1] = Segment(last.start, segment.end, last.user, last.source)
        else:
            out.append(segment)
    return out


def swap_card(
    row: Any,
    now: datetime,
    lang: str,
    names: Mapping[str, str] | None = None,
    *,
    tz: Zone = UTC,
) -> Card:
    """The card of a swap request as of `now`, times in `tz` (a zone or its IANA name)."""
    names = names or {}
    requester, other = names.get(row.requester, row.requester), names.get(row.other, row.other)
    status = row.status
    if status == "pending" and row.expires_at <= now:
        status = "expired"
    kind = row.kind or ("swap" if row.other_start is not None else "cover")
    fields = [
        Field(t("swap.schedule", lang), row.schedule),
        Field(
            t("swap.gives", lang, user=other if kind == "take" else requester),
            f"{when(row.shift_start, lang, tz)} → {when(row.shift_end, lang, tz)}",
        ),
    ]
    if row.other_start is not None:
        fields.append(
            Field(
                t("swap.gives", lang, user=other),
                f"{when(row.other_start, lang, tz)} → {when(row.other_end, lang, tz)}",
            )
        )
    key = f"swap.{status}"
    fields.append(Field(t("card.status", lang), badge(key, lang).word))
    buttons: tuple[Button, ...] = ()
    if status == "pending":
        buttons = (
            Button(t("button.accept", lang), ActionKind.ACCEPT, style=ButtonStyle.PRIMARY),
            Button(t("button.decline", lang), ActionKind.DECLINE),
        )
    title = {"swap": "swap.title", "cover": "swap.title_cover"}.get(kind, "swap.title_take")
    return Card(
        ref=f"swap:{row.id}",
        title=t(title, lang, requester=requester, other=other),
        tier=None,
        status=key,
        fields=tuple(fields),
        body=t("swap.body", lang, other=other) if status == "pending" else "",
        buttons=buttons,
        footer=t("take.footer" if kind == "take" else "swap.footer", lang, id=row.id),
        badge=badge(key, lang),
    )


async def render_swap(
    conn: AsyncConnection,
    swap_id: int,
    now: datetime,
    lang: str,
    names: Mapping[str, str] | None = None,
    *,
    tz: Zone = UTC,
) -> Card | None:
    row = (await conn.execute(select(swap_requests).where(swap_requests.c.id == swap_id))).first()
    return swap_card(row, now, lang, names, tz=tz) if row is not None else None


class SwapDesk:
    """Requests to change who works a shift, and their answers: a pending row and its card,
    then, on Accept, the overrides that carry it out (in the same transaction)."""

    def __init__(self, oncall: OnCallService) -> None:
        self.oncall = oncall

    async def request_swap(
        self,
        conn: AsyncConnection,
        name: str,
        requester: str,
        other: str,
        now: datetime,
        chat: str,
    ) -> int:
        schedule = self.oncall.schedule(name)
        if other == requester:
            raise UserError("oncall.swap_self")
        overrides = (await active_overrides(conn, now, name)).get(name, [])
        mine = shifts_of(schedule, requester, now, now + HORIZON, overrides)
        if not mine:
            raise UserError("oncall.no_shift", user=requester, schedule=name)
        given = mine[0]
        theirs = shifts_of(schedule, other, given.end, now + HORIZON, overrides)
        taken = theirs[0] if theirs else None
        return await self._ask(
            conn,
            name,
            "swap" if taken else "cover",
            requester,
            other,
            Segment(max(given.start, now), given.end, requester, ""),
            taken,
            now,
            chat,
        )

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
        """Ask `owner` to let `taker` work their shift holding or following `at` (their next
        shift when `at` is None). The owner accepts or declines on the card."""
        schedule = self.oncall.schedule(name)
        if taker == owner:
            raise UserError("oncall.take_self")
        at = at or now
        if at < now - HORIZON:
            raise UserError("oncall.take_over", user=self.oncall.name(owner), schedule=name)
        if at >= now + HORIZON:
            raise UserError("oncall.take_no_shift", user=self.oncall.name(owner), schedule=name)
        lo = min(at, now)
        overrides = (await active_overrides(conn, lo, name)).get(name, [])
        theirs = shift_runs(shifts_of(schedule, owner, lo, now + HORIZON, overrides))
        found = next((s for s in theirs if s.end > at), None)
        if found is None:
            raise UserError("oncall.take_no_shift", user=self.oncall.name(owner), schedule=name)
        if found.end <= now:
            raise UserError("oncall.take_over", user=self.oncall.name(owner), schedule=name)
        shift = Segment(max(found.start, now), found.end, owner, "")
        found_id = await self._ask(conn, name, "take", taker, owner, shift, None, now, chat)
        return found_id, shift

    async def _ask(
        self,
        conn: AsyncConnection,
        name: str,
        kind: str,
        requester: str,
        other: str,
        shift: Segment,
        taken: Segment | None,
        now: datetime,
        chat: str,
    ) -> int:
        """Store a pending request and post its card where it was asked and to `other`."""
        dests = list(dict.fromkeys([chat, *self.oncall.direct(other)]))
        result = await conn.execute(
            swap_requests.insert()
            .values(
                schedule=name,
                kind=kind,
                requester=requester,
                other=other,
                shift_start=shift.start,
                shift_end=shift.end,
                other_start=taken.start if taken else None,
                other_end=taken.end if taken else None,
                status="pending",
                destinations=dests,
                created_at=now,
                expires_at=min(now + SWAP_TTL, shift.end),
            )
            .returning(swap_requests.c.id)
        )
        swap_id = int(result.scalar_one())
        await self.oncall.outbox.card(conn, f"swap:{swap_id}", dests, priority=1, now=now)
        return swap_id

    async def decide(self, ctx: Context[object], swap_id: int, action: ActionKind) -> Reply:
        """Accept or Decline pressed on a request's card. The row is locked, so of two presses
        at once (two replicas, a re-delivery) the second finds it answered."""
        row = (
            await ctx.conn.execute(
                self.oncall.db.for_update(
                    select(swap_requests).where(swap_requests.c.id == swap_id)
                )
            )
        ).first()
        if row is None or action not in (ActionKind.ACCEPT, ActionKind.DECLINE):
            raise UserError("error.bad_card")
        me = ctx.person.id
        params = {
            "id": swap_id,
            "user": ctx.person.display,
            "other": self.oncall.name(row.other),
            "requester": self.oncall.name(row.requester),
        }
        if row.status != "pending":
            return Reply(t(f"swap.already.{row.status}", ctx.lang, **params), private=True)
        if row.expires_at <= ctx.now:
            await self._decide(ctx.conn, row, "expired", ctx.now)
            return Reply(t("swap.already.expired", ctx.lang, **params), private=True)
        if me not in (row.other, row.requester) or (
            action == ActionKind.ACCEPT and me != row.other
        ):
            raise UserError("swap.not_yours", other=self.oncall.name(row.other))
        if action == ActionKind.DECLINE:
            await self._decide(ctx.conn, row, "declined", ctx.now)
            return Reply(t("swap.declined", ctx.lang, **params))
        kind = row.kind or "swap"
        # A take puts the requester on the other's shift; a swap or cover the other on the
        # requester's.
        reason = f"{'take' if kind == 'take' else 'swap'} #{swap_id}"
        await add_override(
            ctx.conn,
            row.schedule,
            row.requester if kind == "take" else row.other,
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
        await self.oncall.recheck(ctx.conn, row.schedule, ctx.now)
        accepted = {"swap": "swap.accepted", "cover": "swap.accepted_cover"}
        return Reply(t(accepted.get(kind, "swap.accepted_take"), ctx.lang, **params))

    async def _decide(self, conn: AsyncConnection, row: Any, status: str, now: datetime) -> None:
        await conn.execute(
            update(swap_requests)
            .where(swap_requests.c.id == row.id)
            .values(status=status, decided_at=now)
        )
        await self.oncall.outbox.card(conn, f"swap:{row.id}", row.destinations, priority=1, now=now)
