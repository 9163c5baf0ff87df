"""Asking Alertmanager for a silence, and taking it back, inside a person's transaction.

Nothing here calls Alertmanager: a Silence writes `am_silences` rows due now in the same
transaction as the incident's own silence, and the silence pass (`bot.silences.push`) makes
them real. Tocsin's silence therefore holds at once, whether Alertmanager answers or not.
Incidents whose alerts come from no Alertmanager with an API get no rows, as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.alerts.limits import NAME
from bot.incidents.aggregate import Incident
from bot.silences.choice import Labels, choose, common_labels
from bot.silences.rows import (
    ACTIVE,
    ALERTMANAGER,
    EXPIRED,
    EXPIRING,
    FAILED,
    PENDING,
    TOCSIN,
    comment_for,
)
from bot.store.tables import alerts, am_silences

WHO_CHARS = 128


class Asking:
    """`sources`: the names of the `alertmanager` sources whose API Tocsin may call."""

    def __init__(self, sources: Iterable[str], public_url: str) -> None:
        self.sources = frozenset(sources)
        self.public_url = public_url

    async def ask(
        self, conn: AsyncConnection, incident: Incident, who: str, now: datetime, until: datetime
    ) -> int:
        """Silence the incident's alerts in their Alertmanager until `until`, replacing what
        Tocsin asked for it before; returns the silences asked for."""
        await self.withdraw(conn, incident.id, now, origins=(TOCSIN,))
        if not self.sources:
            return 0
        found = (
            await conn.execute(
                select(alerts.c.source, alerts.c.labels, alerts.c.status).where(
                    and_(
                        alerts.c.incident_id == incident.id,
                        alerts.c.source.in_(sorted(self.sources)),
                    )
                )
            )
        ).all()
        by_source: dict[str, list[Any]] = defaultdict(list)
        for row in found:
            by_source[row.source].append(row)
        comment = comment_for(incident.id, incident.title, self.public_url)
        asked = 0
        for source, rows in sorted(by_source.items()):
            firing = [row.labels for row in rows if row.status == "firing"]
            targets = firing or [row.labels for row in rows]
            others = await _others(conn, source, incident.id, common_labels(targets))
            choice = choose(targets, others)
            if choice is None:
                continue
            values = [
                {
                    "incident_id": incident.id,
                    "source": source,
                    "origin": TOCSIN,
                    "scope": choice.scope,
                    "matchers": [m.as_json() for m in matchers],
                    "silence_id": None,
                    "state": PENDING,
                    "created_by": who[:WHO_CHARS],
                    "comment": comment,
                    "starts_at": now,
                    "ends_at": until,
                    "attempts": 0,
                    "due_at": now,
                    "last_error": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for matchers in choice.silences
            ]
            await conn.execute(insert(am_silences), values)
            asked += len(values)
        return asked

    async def withdraw(
        self,
        conn: AsyncConnection,
        incident_id: int,
        now: datetime,
        *,
        origins: Sequence[str] = (TOCSIN, ALERTMANAGER),
    ) -> int:
        """Take back the incident's silences of `origins`: those Alertmanager may hold are
        expired there by the pass; one never tried, or refused, just ends. Returns the
        silences to expire there."""
        row = am_silences.c
        mine = and_(row.incident_id == incident_id, row.origin.in_(list(origins)))
        nothing_there = or_(and_(row.state == PENDING, row.attempts == 0), row.state == FAILED)
        await conn.execute(
            update(am_silences)
            .where(and_(mine, nothing_there))
            .values(state=EXPIRED, due_at=None, updated_at=now)
        )
        expiring = await conn.execute(
            update(am_silences)
            .where(and_(mine, row.state.in_((PENDING, ACTIVE))))
            .values(state=EXPIRING, due_at=now, attempts=0, last_error="", updated_at=now)
        )
        return max(int(expiring.rowcount or 0), 0)


async def _others(
    conn: AsyncConnection, source: str, incident_id: int, common: Mapping[str, str]
) -> list[Labels]:
    """The labels of the source's alerts outside the incident that still fire, as far as they
    could carry `common` (only when there are common labels to test)."""
    if not common:
        return []
    where = and_(
        alerts.c.source == source,
        alerts.c.status != "resolved",
        alerts.c.incident_id != incident_id,
    )
    if "alertname" in common:
        where = and_(where, alerts.c.name == common["alertname"][:NAME])
    return [row.labels for row in (await conn.execute(select(alerts.c.labels).where(where)))]
