"""The engine pass that writes recurring windows ahead of time, from the configuration.

Each configured window's occurrences that run within the next `AHEAD` become rows (kind
``recurring``), so the escalation pass, `/maint list` and cards read every window the same
way. The partial unique index on (name, starts_at) makes writing them idempotent: replicas
that run the pass at the same time write each occurrence once. Occurrences to come of a window
the configuration no longer has (or has moved) are deleted; one already running runs its
course. The pass is due every `EVERY`, one replica at a time, through the `maintenance` table.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, select, update

from bot.maintenance.recurring import occurrences
from bot.maintenance.windows import CONFIGURATION, RECURRING
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import maintenance, maintenance_windows

NAME = "maintenance-windows"
AHEAD = timedelta(days=2)
EVERY = timedelta(minutes=5)
_W = maintenance_windows.c


class RecurringWindows:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db = settings, db
        self._next: datetime | None = None

    async def run(self, now: datetime) -> None:
        """Write the occurrences when due (engine pass)."""
        if self._next is not None and now < self._next:
            return
        if await self._claim(now):
            await self.write(now)

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

    async def _claim(self, now: datetime) -> bool:
        """True when this replica is the one to write now (see `bot.retention.runner`); the
        first pass of a fresh database writes at once."""
        due = now + EVERY
        row = maintenance.c
        async with self.db.begin() as conn:
            claimed = await conn.execute(
                update(maintenance)
                .where(and_(row.name == NAME, row.due_at <= now))
                .values(due_at=due, ran_at=now)
            )
            if claimed.rowcount == 1:
                self._next = due
                return True
            current = (
                await conn.execute(select(row.due_at).where(row.name == NAME))
            ).scalar_one_or_none()
            if current is None:
                inserted = await conn.execute(
                    self.db.insert(maintenance)
                    .values(name=NAME, due_at=due, ran_at=now)
                    .on_conflict_do_nothing()
                )
                self._next = due
                return bool(inserted.rowcount)
            self._next = current
        return False
