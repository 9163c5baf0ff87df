"""What the noise report is made of, read from the tables of one period.

An incident belongs to the period it was opened in (`created_at` in ``[since, until)``); its
alerts, pages and state are read as stored now. The incidents are found through indexes
only: one opened in the period is either resolved since (`ix_incidents_resolved`) or still
open (`ix_incidents_status_due`), so the scan is bounded by the incidents of the period and
those resolved after it began; alerts and pages follow by incident id (`ix_alerts_incident`,
the pages' unique key). Each incident's alert name is its `alertname` label (the name of the
alert that opened it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.incidents.aggregate import MONITORING
from bot.incidents.status import Status
from bot.store.tables import alerts, incidents, pages

CHUNK = 500
"""Incident ids per `IN (…)` when reading their alerts and pages."""


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """One incident of the period, as the report weighs it."""

    id: int
    alert: str
    service: str
    tier: str
    created_at: datetime
    triggered_at: datetime
    acked_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    status: str
    flapping: bool
    alert_count: int
    changes: int
    """State changes its alerts have on record (each alert keeps those of its flapping
    window)."""
    max_changes: int
    """The most any one of its alerts has on record."""

    @property
    def resolved_unacked(self) -> bool:
        return self.status == Status.RESOLVED and self.acked_at is None

    @property
    def never_acked(self) -> bool:
        return self.status == Status.TRIGGERED and self.acked_at is None

    @property
    def by_monitoring(self) -> bool:
        return self.resolved_by == MONITORING


@dataclass(frozen=True, slots=True)
class PageFacts:
    """One page of a person: a step of an incident's escalation reaching them (on however
    many channels), at the time it was written."""

    incident_id: int
    recipient: str
    at: datetime


async def read_incidents(
    conn: AsyncConnection,
    since: datetime,
    until: datetime,
    services: Sequence[str] = (),
) -> list[IncidentFacts]:
    """The incidents opened in ``[since, until)`` (of `services` when some are given)."""
    where = and_(
        or_(
            incidents.c.resolved_at >= since,
            incidents.c.status.in_((Status.TRIGGERED.value, Status.ACKNOWLEDGED.value)),
        ),
        incidents.c.created_at >= since,
        incidents.c.created_at < until,
    )
    if services:
        where = and_(where, incidents.c.service.in_(tuple(services)))
    stmt = select(
        incidents.c.id,
        incidents.c.title,
        incidents.c.labels,
        incidents.c.service,
        incidents.c.tier,
        incidents.c.created_at,
        incidents.c.triggered_at,
        incidents.c.acked_at,
        incidents.c.resolved_at,
        incidents.c.resolved_by,
        incidents.c.status,
        incidents.c.flapping,
        incidents.c.alert_count,
    ).where(where)
    rows = (await conn.execute(stmt.order_by(incidents.c.id))).all()
    changes = await _changes(conn, [r.id for r in rows], since, until)
    return [_facts(r, changes.get(r.id, (0, 0))) for r in rows]


async def read_pages(conn: AsyncConnection, incident_ids: Sequence[int]) -> list[PageFacts]:
    """The pages of people (not chats) for these incidents, one per escalation step and person
    whatever the number of channels, at its first channel's time; pages cancelled before they
    went out are left out."""
    first: dict[tuple[int, int, int, int, str], datetime] = {}
    for part in _chunks(incident_ids):
        stmt = select(
            pages.c.incident_id,
            pages.c.cycle,
            pages.c.loop,
            pages.c.step,
            pages.c.recipient,
            pages.c.created_at,
        ).where(
            and_(
                pages.c.incident_id.in_(part),
                pages.c.status != "cancelled",
                ~pages.c.recipient.startswith("chat:"),
            )
        )
        for row in await conn.execute(stmt):
            key = (row.incident_id, row.cycle, row.loop, row.step, row.recipient)
            if key not in first or row.created_at < first[key]:
                first[key] = row.created_at
    return sorted(
        (PageFacts(key[0], key[4], at) for key, at in first.items()),
        key=lambda p: (p.at, p.incident_id, p.recipient),
    )


async def _changes(
    conn: AsyncConnection, ids: Sequence[int], since: datetime, until: datetime
) -> dict[int, tuple[int, int]]:
    """Per incident: the state changes in the period its alerts have on record, and the most
    of one alert."""
    found: dict[int, tuple[int, int]] = {}
    for part in _chunks(ids):
        stmt = select(alerts.c.incident_id, alerts.c.changes).where(alerts.c.incident_id.in_(part))
        for row in await conn.execute(stmt):
            n = sum(1 for c in row.changes or () if since <= _moment(c) < until)
            total, most = found.get(row.incident_id, (0, 0))
            found[row.incident_id] = (total + n, max(most, n))
    return found


def _facts(row: Any, changes: tuple[int, int]) -> IncidentFacts:
    labels = row.labels or {}
    alert = str(labels.get("alertname") or row.title.split(" · ")[0])
    return IncidentFacts(
        id=row.id,
        alert=alert,
        service=row.service or "",
        tier=row.tier,
        created_at=row.created_at,
        triggered_at=row.triggered_at or row.created_at,
        acked_at=row.acked_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        status=row.status,
        flapping=bool(row.flapping),
        alert_count=row.alert_count or 0,
        changes=changes[0],
        max_changes=changes[1],
    )


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    ids = list(ids)
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
