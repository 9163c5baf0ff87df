"""The `heartbeats` table: beats written in one statement, rows read with their alert.

A beat is an upsert, so the first beat of a heartbeat the pass has not met yet needs no row
beforehand, and a beat never waits for a read. It leaves a "missing" row missing: the pass
sees the beat came back (`last_seen_at` after `missing_since`) and resolves the alert first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.heartbeats.deadline import Row, State
from bot.store.db import Database
from bot.store.tables import alerts, heartbeats, incidents

SOURCE = "heartbeat"
"""The source of blind-monitoring alerts."""
HTTP = "http"
"""`last_via` of a beat over `POST /api/v1/heartbeats/<name>`."""


def fingerprint(name: str) -> str:
    """The blind-monitoring alert's fingerprint: one per heartbeat, whatever its labels."""
    return f"{SOURCE}:{name}"


@dataclass(frozen=True, slots=True)
class Stored:
    """A row with its blind-monitoring alert as the intake holds it (None: never raised)."""

    row: Row
    alert_status: str | None
    alert_starts_at: datetime | None
    incident_status: str | None


async def record(db: Database, names: Sequence[str], via: str, now: datetime) -> None:
    """One beat of each of `names`, in one statement (committed when this returns)."""
    if not names:
        return
    h = heartbeats.c
    stmt = db.insert(heartbeats).values(
        [
            {
                "name": name,
                "state": State.OK.value,
                "last_seen_at": now,
                "last_via": via,
                "beats": 1,
                "created_at": now,
                "updated_at": now,
            }
            for name in dict.fromkeys(names)
        ]
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "state": case((h.state == State.MISSING.value, h.state), else_=State.OK.value),
            "last_seen_at": now,
            "last_via": via,
            "beats": h.beats + 1,
            "updated_at": now,
        },
    )
    async with db.begin() as conn:
        await conn.execute(stmt)


async def read(conn: AsyncConnection) -> list[Stored]:
    """Every row, with its alert and that alert's incident, in one statement."""
    h = heartbeats.c
    stmt = (
        select(
            heartbeats,
            alerts.c.status.label("alert_status"),
            alerts.c.starts_at.label("alert_starts_at"),
            incidents.c.status.label("incident_status"),
        )
        .select_from(
            heartbeats.outerjoin(
                alerts,
                and_(
                    alerts.c.source == SOURCE,
                    alerts.c.fingerprint == literal(f"{SOURCE}:") + h.name,
                ),
            ).outerjoin(incidents, incidents.c.id == alerts.c.incident_id)
        )
        .order_by(h.name)
    )
    return [
        Stored(_row(r), r.alert_status, r.alert_starts_at, r.incident_status)
        for r in (await conn.execute(stmt)).all()
    ]


async def rows(conn: AsyncConnection) -> dict[str, Row]:
    """Every row by name (what `/heartbeat list` shows)."""
    found = (await conn.execute(select(heartbeats))).all()
    return {r.name: _row(r) for r in found}


async def add(db: Database, names: Iterable[str], now: datetime) -> None:
    """Rows for heartbeats met for the first time: waiting, their clock started `now`."""
    values = [
        {
            "name": name,
            "state": State.WAITING.value,
            "last_via": "",
            "beats": 0,
            "created_at": now,
            "updated_at": now,
        }
        for name in names
    ]
    if values:
        async with db.begin() as conn:
            await conn.execute(db.insert(heartbeats).values(values).on_conflict_do_nothing())


async def drop(db: Database, names: Iterable[str]) -> None:
    """Rows of heartbeats no longer configured."""
    gone = list(names)
    if gone:
        async with db.begin() as conn:
            await conn.execute(heartbeats.delete().where(heartbeats.c.name.in_(gone)))


async def lock(db: Database, conn: AsyncConnection, names: Sequence[str]) -> list[Row]:
    """`names`' rows, locked for this transaction; rows another replica holds are skipped."""
    stmt = db.for_update(
        select(heartbeats).where(heartbeats.c.name.in_(list(names))).order_by(heartbeats.c.name),
        skip_locked=True,
    )
    return [_row(r) for r in (await conn.execute(stmt)).all()]


def _row(r: Any) -> Row:
    return Row(
        name=r.name,
        state=State(r.state),
        last_seen_at=r.last_seen_at,
        last_via=r.last_via,
        beats=r.beats,
        missing_since=r.missing_since,
        created_at=r.created_at,
    )
