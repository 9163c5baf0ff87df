"""The engine pass that writes recurring windows ahead of time, from the configuration.

Each configured window's occurrences that run within the next `AHEAD` become rows (kind
``recurring``), so the escalation pass, `/maint list` and cards read every window the same
way. The partial unique index on (name, starts_at) makes writing them idempotent: replicas
that run the pass at the same time write each occurrence once. Occurrences to come of a window
the configuration no longer has (or has moved) are deleted; one already running runs its
course. The pass is due every `EVERY`, one replica at a time (`bot.store.slots`); it also has
the cards of windows that ended meanwhile redrawn.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update

from bot.maintenance.recurring import occurrences
from bot.maintenance.windows import CONFIGURATION, RECURRING
from bot.settings import Settings
from bot.store.db import Database
from bot.store.slots import Slot
from bot.store.tables import incidents, maintenance_windows

NAME = "maintenance-windows"
AHEAD = timedelta(days=2)
EVERY = timedelta(minutes=5)
_W = maintenance_windows.c


class RecurringWindows:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db = settings, db
        self.slot = Slot(db, NAME)

    async def run(self, now: datetime) -> None:
        """Write the occurrences when due, and refresh the cards of windows that ended since
        the last run (engine pass)."""
        claim = await self.slot.claim(now, EVERY)
        if claim is not None:
            await self.write(now)
            await self.refresh_ended(claim.ran_at or now - EVERY, now)

    async def refresh_ended(self, since: datetime, now: datetime) -> int:
        """Open incidents marked with a window that ended in (`since`, `now`] get their card
        redrawn (by the card pass), so it says "ended 04:00" rather than "until 04:00" even
        where no held page was released to do it; returns how many."""
        until = func.coalesce(_W.ended_at, _W.ends_at)
        ended = select(_W.id).where(and_(until > since, until <= now))
        i = incidents.c
        async with self.db.begin() as conn:
            done = await conn.execute(
                update(incidents)
                .where(
                    and_(
                        i.maintenance_id.in_(ended),
                        i.status != "resolved",
                        or_(i.card_due_at.is_(None), i.card_due_at > now),
                    )
                )
                .values(card_due_at=now)
            )
        return max(int(done.rowcount or 0), 0)

    async def write(self, now: datetime) -> int:
        """Write the occurrences running within `AHEAD`, delete those to come that the
        configuration no longer has; returns how many rows that added or deleted."""
        wanted = {
            (o.name, o.starts_at): o
            for window in self.settings.maintenance.windows
            for o in occurrences(window, now, now + AHEAD)
        }
        by_name = {w.name: w for w in self.settings.maintenance.windows}
        changed = 0
        async with self.db.begin() as conn:
            future = await conn.execute(
                select(_W.id, _W.name, _W.starts_at).where(
                    and_(_W.kind == RECURRING, _W.starts_at > now)
                )
            )
            stale = [r.id for r in future if (r.name, r.starts_at) not in wanted]
            if stale:
                await conn.execute(delete(maintenance_windows).where(_W.id.in_(stale)))
                changed += len(stale)
            rows = [
                {
                    "kind": RECURRING,
                    "name": o.name,
                    "service": by_name[o.name].service,
                    "environment": by_name[o.name].environment,
                    "reason": by_name[o.name].reason,
                    "created_by": CONFIGURATION,
                    "version": "",
                    "starts_at": o.starts_at,
                    "ends_at": o.ends_at,
                    "created_at": now,
                }
                for o in wanted.values()
            ]
            for row in rows:  # one at a time: the conflict target is a partial index
                stmt = (
                    self.db.insert(maintenance_windows)
                    .values(**row)
                    .on_conflict_do_nothing(
                        index_elements=[_W.name, _W.starts_at],
                        index_where=_W.kind == RECURRING,
                    )
                )
                changed += (await conn.execute(stmt)).rowcount or 0
        return changed
