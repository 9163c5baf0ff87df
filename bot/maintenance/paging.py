"""What a maintenance window does to paging, decided for one escalation batch.

The escalation pass asks `Paging.meet` about each incident whose step is due (or whose episode
just began): the incident is marked with the window covering it (its card then says so), and
unless its tier is one that always pages, the step waits until the window ends. The windows of
a whole batch come from one query; the marks go out in one statement, with the cards' refresh.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.maintenance.windows import RECHECK, Meeting, Window, hold_until, meetings
from bot.model import Tier
from bot.store.tables import escalation_log, incidents

HELD = "maintenance"
"""The escalation log's kind for a step held back by a window."""


@dataclass
class Paging:
    """One batch's view of maintenance: `load` it, `meet` each incident, `write` the marks."""

    page_tiers: Collection[Tier]
    now: datetime
    found: dict[int, Meeting] = field(default_factory=dict)
    marks: dict[int, int | None] = field(default_factory=dict)
    refresh: set[int] = field(default_factory=set)
    """Incidents whose cards should say that the window they met is over."""

    async def load(self, conn: AsyncConnection, ids: Sequence[int]) -> Paging:
        self.found = await meetings(conn, ids, self.now)
        return self

    def window(self, incident_id: int) -> Window | None:
        meeting = self.found.get(incident_id)
        return meeting.window if meeting is not None else None

    def begin(self, incident_id: int) -> None:
        """A new episode: marked with the window it begins in, or no longer marked."""
        meeting = self.found.get(incident_id)
        if meeting is None:
            return
        wanted = meeting.window.id if meeting.window is not None else None
        if meeting.marked != wanted:
            self.marks[incident_id] = wanted

    def meet(self, incident_id: int, tier: Tier, due: datetime | None = None) -> Window | None:
        """A step is due (at `due`): mark the incident with the window covering it; the window
        when it holds the step back (the tier does not page during windows), else None. A step
        the end of its window released refreshes the card, which then says the window ended."""
        window = self.window(incident_id)
        meeting = self.found.get(incident_id)
        if meeting is None:
            return None
        if window is None:
            until = meeting.marked_until
            released = due is not None and until is not None and abs(due - until) <= RECHECK
            if released and until is not None and until <= self.now:
                self.refresh.add(incident_id)
            return None
        if meeting.marked != window.id:
            self.marks[incident_id] = window.id
        return None if tier in self.page_tiers else window

    def hold(self, window: Window) -> tuple[datetime, dict[str, Any]]:
        """When a held step looks again, and the log entry's detail."""
        until = window.until
        detail: dict[str, Any] = {
            "window": window.id,
            "kind": window.kind,
            "until": until.isoformat() if until is not None else None,
        }
        return hold_until(window, self.now), detail

    async def write(self, conn: AsyncConnection) -> None:
        """The marks, each with its cards' refresh (a due card, see `Engine._due_cards`)."""
        refresh = sorted(self.refresh - set(self.marks))
        if refresh:
            await conn.execute(
                update(incidents).where(incidents.c.id.in_(refresh)).values(card_due_at=self.now)
            )
        if not self.marks:
            return
        await conn.execute(
            update(incidents)
            .where(incidents.c.id == bindparam("b_id"))
            .values(
                maintenance_id=bindparam("b_mark", type_=incidents.c.maintenance_id.type),
                card_due_at=bindparam("b_due", type_=incidents.c.card_due_at.type),
            ),
            [{"b_id": k, "b_mark": v, "b_due": self.now} for k, v in sorted(self.marks.items())],
        )


async def new_holds(conn: AsyncConnection, logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`logs` without the held-step entries already written for the same episode and window:
    a step held again (a deploy window looks again every minute) is logged once."""
    held = [e for e in logs if e["kind"] == HELD]
    if not held:
        return logs
    ids = sorted({e["incident_id"] for e in held})
    rows = await conn.execute(
        select(escalation_log.c.incident_id, escalation_log.c.cycle, escalation_log.c.detail).where(
            and_(escalation_log.c.incident_id.in_(ids), escalation_log.c.kind == HELD)
        )
    )
    seen = {(r.incident_id, r.cycle, (r.detail or {}).get("window")) for r in rows}
    out = []
    for entry in logs:
        key = (entry["incident_id"], entry["cycle"], entry["detail"].get("window"))
        if entry["kind"] == HELD and key in seen:
            continue
        out.append(entry)
    return out
