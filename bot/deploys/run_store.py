"""Runs in the database: rows of `runs` become `Run`s and changes go back as updates of only the
columns a transition wrote, so a column another writer set meanwhile (a Cancel pressed while
the engine polls) is not put back."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.deploys.run import Change, Refresh, Run
from bot.errors import UserError
from bot.outbox.enqueue import Outbox
from bot.store.db import Database
from bot.store.tables import runs


def run_ref(run_id: int) -> str:
    """The card reference of a run."""
    return f"run:{run_id}"


def from_row(row: Any) -> Run:
    """A `runs` row as a `Run` (its JSON lists and objects as the types `Run` names)."""
    values = dict(row._mapping)
    values["destinations"] = tuple(values["destinations"])
    values["params"] = dict(values["params"] or {})
    return Run(**values)


class RunStore:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db, self.outbox = db, outbox

    async def load(self, conn: AsyncConnection, run_id: int) -> Run:
        """The run as it stands; UserError ``deploy.unknown_run`` when there is none."""
        return await self._one(conn, select(runs).where(runs.c.id == run_id), run_id)

    async def load_for_update(self, conn: AsyncConnection, run_id: int) -> Run:
        """The run, locked until the transaction ends (on PostgreSQL)."""
        stmt = self.db.for_update(select(runs).where(runs.c.id == run_id))
        return await self._one(conn, stmt, run_id)

    async def _one(self, conn: AsyncConnection, stmt: Any, run_id: int) -> Run:
        row = (await conn.execute(stmt)).first()
        if row is None:
            raise UserError("deploy.unknown_run", id=run_id)
        return from_row(row)

    async def insert(self, conn: AsyncConnection, run: Run, now: datetime) -> Run:
        """Record a new run (its `id` is the database's) and post its card."""
        values = asdict(run)
        del values["id"]
        values["params"] = dict(run.params)
        values["destinations"] = list(run.destinations)
        row = (await conn.execute(runs.insert().values(**values).returning(*runs.c))).one()
        made = from_row(row)
        await self.refresh(conn, made, now)
        return made

    async def save(self, conn: AsyncConnection, change: Change, now: datetime) -> Run:
        """Write what `change` wrote, then follow its `Refresh`; returns the run as it now is."""
        written = change.written
        if "ref" in written and written["ref"] is not None:
            written["ref"] = dict(written["ref"])
        if written:
            await conn.execute(update(runs).where(runs.c.id == change.run.id).values(**written))
        if any(isinstance(event, Refresh) for event in change.events):
            await self.refresh(conn, change.run, now)
        return change.run

    async def refresh(self, conn: AsyncConnection, run: Run, now: datetime) -> None:
        """Update the run's card where it was posted."""
        await self.outbox.card(conn, run_ref(run.id), run.destinations, priority=1, now=now)


__all__ = ["RunStore", "from_row", "run_ref"]
