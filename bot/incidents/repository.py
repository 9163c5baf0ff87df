"""Incidents in and out of the `incidents` table.

A row becomes an `Incident` here and nowhere else; `save` writes back the columns a transition
changed (with `version` bumped by the database, so concurrent writers each count). The engine's
selections lock with ``SKIP LOCKED`` on PostgreSQL, so replicas share the due incidents.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import UserError
from bot.incidents.aggregate import Incident, Transition
from bot.incidents.status import Status
from bot.model import Tier
from bot.store.db import Database
from bot.store.tables import incidents

BATCH = 100
"""How many due incidents one engine pass takes."""

_WRITABLE = tuple(f.name for f in fields(Incident) if f.name not in ("id", "version"))


def from_row(row: Any) -> Incident:
    """The incident a full `incidents` row (as selected or returned) stores."""
    return Incident(
        id=row.id,
        group_key=row.group_key,
        route=row.route,
        tier=Tier(row.tier),
        title=row.title,
        summary=row.summary,
        service=row.service,
        environment=row.environment,
        labels=dict(row.labels),
        status=Status(row.status),
        silenced_until=row.silenced_until,
        acked_by=row.acked_by,
        acked_at=row.acked_at,
        acked_via=row.acked_via,
        ack_expires_at=row.ack_expires_at,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        flapping=bool(row.flapping),
        firing_count=row.firing_count,
        alert_count=row.alert_count,
        destinations=tuple(row.destinations),
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        card_due_at=row.card_due_at,
        triggered_at=row.triggered_at,
        page_destinations=tuple(row.page_destinations or ()),
    )


async def redraw_soon(
    conn: AsyncConnection, incident_id: int, now: datetime, *when: ColumnElement[bool]
) -> None:
    """Have the incident's card redrawn on the engine's next card pass (its put-off refresh
    made due now), where `when` holds."""
    i = incidents.c
    await conn.execute(
        update(incidents)
        .where(and_(i.id == incident_id, *when))
        .values(card_due_at=func.coalesce(i.card_due_at, now))
    )


def changed_columns(before: Incident, after: Incident) -> dict[str, Any]:
    """The columns `after` changed, as the table stores them."""
    values: dict[str, Any] = {}
    for name in _WRITABLE:
        value = getattr(after, name)
        if value != getattr(before, name):
            values[name] = list(value) if isinstance(value, tuple) else value
    return values


class IncidentRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, conn: AsyncConnection, incident_id: int) -> Incident:
        return await self._one(conn, incident_id, lock=False)

    async def load_for_update(self, conn: AsyncConnection, incident_id: int) -> Incident:
        """The incident, locked until the transaction ends: its changes are made one at a time."""
        return await self._one(conn, incident_id, lock=True)

    async def _one(self, conn: AsyncConnection, incident_id: int, *, lock: bool) -> Incident:
        stmt = select(incidents).where(incidents.c.id == incident_id)
        row = (await conn.execute(self.db.for_update(stmt) if lock else stmt)).first()
        if row is None:
            raise UserError("incident.not_found", id=incident_id)
        return from_row(row)

    async def by_ids(self, conn: AsyncConnection, ids: list[int]) -> dict[int, Incident]:
        found = await conn.execute(select(incidents).where(incidents.c.id.in_(ids)))
        return {row.id: from_row(row) for row in found}

    async def list_open(self, conn: AsyncConnection, limit: int) -> list[Incident]:
        stmt = (
            select(incidents)
            .where(incidents.c.status != Status.RESOLVED)
            .order_by(incidents.c.tier, incidents.c.id.desc())
            .limit(limit)
        )
        return [from_row(row) for row in await conn.execute(stmt)]

    async def acks_expired(self, conn: AsyncConnection, now: datetime) -> list[Incident]:
        return await self._due(
            conn,
            and_(incidents.c.status == Status.ACKNOWLEDGED, incidents.c.ack_expires_at <= now),
        )

    async def silences_ended(self, conn: AsyncConnection, now: datetime) -> list[Incident]:
        return await self._due(
            conn, and_(incidents.c.status != Status.RESOLVED, incidents.c.silenced_until <= now)
        )

    async def flapping_quiet(self, conn: AsyncConnection, since: datetime) -> list[Incident]:
        """Open flapping incidents left unchanged since `since`."""
        return await self._due(
            conn,
            and_(
                incidents.c.flapping,
                incidents.c.status != Status.RESOLVED,
                incidents.c.updated_at <= since,
            ),
        )

    async def _due(self, conn: AsyncConnection, where: Any) -> list[Incident]:
        stmt = self.db.for_update(select(incidents).where(where).limit(BATCH), skip_locked=True)
        return [from_row(row) for row in (await conn.execute(stmt)).all()]

    async def save(self, conn: AsyncConnection, change: Transition) -> None:
        """Write what `change` changed; nothing when it changed nothing."""
        if not change.changed:
            return
        values = changed_columns(change.before, change.after)
        await conn.execute(
            update(incidents)
            .where(incidents.c.id == change.after.id)
            .values(**values, version=incidents.c.version + 1)
        )
