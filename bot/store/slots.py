"""Slow periodic passes that one replica at a time runs: pruning, writing recurring maintenance
windows ahead, reading an Alertmanager's silences.

When a pass is next due lives in the `maintenance` table, one row per pass. A replica whose
engine round finds it due moves the due time on in one conditional UPDATE; the replica whose
UPDATE changed the row runs the pass, the others wait for the new due time without asking the
database again (each `Slot` remembers it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update

from bot.store.db import Database
from bot.store.tables import maintenance


@dataclass(frozen=True, slots=True)
class Claim:
    """This replica runs the pass now; the row as it was (None on the very first run)."""

    due_at: datetime | None = None
    ran_at: datetime | None = None


class Slot:
    def __init__(self, db: Database, name: str) -> None:
        self.db, self.name = db, name
        self._next: datetime | None = None

    async def claim(
        self, now: datetime, every: timedelta, *, first_at_once: bool = True
    ) -> Claim | None:
        """A `Claim` when this replica is the one to run the pass now (it is then next due
        `every` from now), else None. On a fresh database the first run is at once, or with
        `first_at_once` False one `every` from now."""
        if self._next is not None and now < self._next:
            return None
        due = now + every
        row = maintenance.c
        async with self.db.begin() as conn:
            found = (
                await conn.execute(select(row.due_at, row.ran_at).where(row.name == self.name))
            ).first()
            if found is None:
                inserted = await conn.execute(
                    self.db.insert(maintenance)
                    .values(name=self.name, due_at=due, ran_at=now if first_at_once else None)
                    .on_conflict_do_nothing()
                )
                self._next = due
                return Claim() if first_at_once and inserted.rowcount == 1 else None
            if found.due_at > now:
                self._next = found.due_at
                return None
            claimed = await conn.execute(
                update(maintenance)
                .where(and_(row.name == self.name, row.due_at == found.due_at))
                .values(due_at=due, ran_at=now)
            )
        if claimed.rowcount != 1:  # another replica claimed it a moment ago
            return None
        self._next = due
        return Claim(found.due_at, found.ran_at)

    async def due(self, when: datetime) -> None:
        """Make the pass next due at `when`: at once (a backlog to finish) or later (a back-off)."""
        async with self.db.begin() as conn:
            await conn.execute(
                update(maintenance).where(maintenance.c.name == self.name).values(due_at=when)
            )
        self._next = when
