"""Silences found in Alertmanager: the pass that reads each Alertmanager's silences and puts
those covering an incident on its card.

Per source with an API, at most every ``poll_interval``, by one replica at a time, backing off
while Alertmanager cannot be read (`bot.silences.schedule`).

What a read changes, incident by incident (each in its own transaction, so one that fails
leaves the others done):

- an active silence made outside Tocsin (no `am_silences` row of origin "tocsin" has its id,
  and its comment is not one Tocsin writes: a create not yet recorded is Tocsin's too)
  matching **every** firing alert of an open incident → a row of origin "alertmanager"
  (`uq_am_silences_found` makes it once) and the incident silenced until the silence ends;
- such a silence whose end moved → the row and the incident's silence move with it;
- a silence gone before its end (expired or deleted there), found or Tocsin's → the row is
  expired and the incident's silence lifts, unless another live silence still covers it
  (then it runs until that one's end) or a longer one was set here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.alerts.matchers import Matcher, matches_all
from bot.errors import DeliveryError
from bot.incidents.service import IncidentService
from bot.incidents.status import Status
from bot.ports.silences import SilenceAPI, SilenceMatcher, UpstreamSilence
from bot.settings import Settings
from bot.silences.rows import (
    ACTIVE,
    ALERTMANAGER,
    EXPIRED,
    FAILED,
    PENDING,
    TOCSIN,
    made_by_tocsin,
)
from bot.silences.schedule import PollSchedule
from bot.store.db import Database
from bot.store.outage import classify
from bot.store.tables import alerts, am_silences, incidents

log = structlog.get_logger(__name__)

ALERTS_LIMIT = 5000
"""Firing alerts read per pass (incidents beyond wait for the next)."""
ROWS_LIMIT = 500
"""Live rows looked at per pass."""
SLACK = timedelta(seconds=30)
"""A silence gone this close to its end ended on its own (clocks differ a little): its row is
closed without lifting anything, the incident's own silence ends on time."""
FRESH = timedelta(seconds=5)
"""A row changed this shortly before the read (replicas' clocks differ a little) may be newer
than what the read saw: its silence missing from the read proves nothing yet."""
LIVE = (PENDING, ACTIVE, FAILED)
"""Rows whose silence holds in Tocsin (a refused one still silences here until its end)."""
WHO = "Alertmanager"
"""Who lifts or moves an incident's silence when Alertmanager's went or changed."""


def to_matcher(m: SilenceMatcher) -> Matcher:
    """An Alertmanager matcher as Tocsin's (regexes fully anchored, as there); raises
    ValueError on a regex Python cannot read."""
    op = ("=~" if m.is_equal else "!~") if m.is_regex else ("=" if m.is_equal else "!=")
    try:
        pattern = re.compile(m.value) if m.is_regex else None
    except re.error as exc:
        raise ValueError(f"bad regex {m.value!r}: {exc}") from None
    return Matcher(m.name, op, m.value, pattern)


def covering(
    silences: Iterable[UpstreamSilence], firing: list[dict[str, str]]
) -> list[UpstreamSilence]:
    """The silences that match every one of `firing` (label sets); an odd one is skipped."""
    found = []
    for silence in silences:
        try:
            matchers = tuple(to_matcher(m) for m in silence.matchers)
        except ValueError:
            continue
        if matchers and firing and all(matches_all(matchers, labels) for labels in firing):
            found.append(silence)
    return found


class FoundSilences:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        incidents: IncidentService,
        apis: Mapping[str, SilenceAPI],
    ) -> None:
        self.db, self.incidents, self.apis = db, incidents, apis
        intervals = {s.name: s.api.poll_interval for s in settings.sources if s.api is not None}
        self.schedule = PollSchedule(db, intervals)

    async def run(self, now: datetime) -> None:
        for source, api in self.apis.items():
            gap = await self.schedule.claim(source, now)
            if gap is None:
                continue
            try:
                upstream = await api.silences()
            except DeliveryError as exc:
                await self.schedule.failed(source, now, gap, exc)
                continue
            if gap > self.schedule.interval(source):
                log.info("alertmanager silences readable again", source=source)
            await self.reconcile(source, upstream, now)

    # -- what a read changes ------------------------------------------------------------------

    async def reconcile(self, source: str, upstream: list[UpstreamSilence], now: datetime) -> None:
        live = {s.id: s for s in upstream if s.state == "active" and s.ends_at > now}
        async with self.db.connect() as conn:
            firing = await _firing(conn, source)
            rows = await _rows(conn, source)
            recorded = await _recorded(conn, source, list(live))
        ours = {r.silence_id for r in recorded if r.origin == TOCSIN}
        others = [s for s in live.values() if s.id not in ours and not made_by_tocsin(s.comment)]
        known = {(r.silence_id, r.incident_id): r for r in recorded if r.origin == ALERTMANAGER}
        for incident_id, labels in firing.items():
            for silence in covering(others, labels):
                row = known.get((silence.id, incident_id))
                if row is None or (row.state == ACTIVE and row.ends_at != silence.ends_at):
                    await self._isolated(self._cover, source, incident_id, silence, now)
        for row in rows:
            if row.silence_id not in live and row.state == ACTIVE:
                await self._isolated(self._gone, source, row.incident_id, row.id, now)

    async def _isolated(self, step: Any, source: str, incident_id: int, *args: Any) -> None:
        try:
            await step(source, incident_id, *args)
        except Exception as exc:
            if classify(exc) is not None:
                raise  # the database is down: the engine counts the outage, not each incident
            log.exception("alertmanager silence not applied", source=source, incident=incident_id)

    async def _cover(
        self, source: str, incident_id: int, silence: UpstreamSilence, now: datetime
    ) -> None:
        """A found silence covers the incident: record it, and silence until its end."""
        async with self.db.begin() as conn:
            incident = await self.incidents.load(conn, incident_id, lock=True)
            if incident.status == Status.RESOLVED:
                return
            row = await _row(conn, self.db, source, incident_id, silence.id)
            if row is None:
                await conn.execute(
                    self.db.insert(am_silences)
                    .values(
                        incident_id=incident_id,
                        source=source,
                        origin=ALERTMANAGER,
                        scope="group",
                        matchers=[m.as_json() for m in silence.matchers],
                        silence_id=silence.id,
                        state=ACTIVE,
                        created_by=silence.created_by[:128],
                        comment=silence.comment,
                        starts_at=silence.starts_at,
                        ends_at=silence.ends_at,
                        created_at=now,
                        updated_at=now,
                    )
                    .on_conflict_do_nothing()
                )
                moved_from = None
            elif row.state != ACTIVE or row.ends_at == silence.ends_at:
                return
            else:
                moved_from = row.ends_at
                await conn.execute(
                    update(am_silences)
                    .where(am_silences.c.id == row.id)
                    .values(ends_at=silence.ends_at, updated_at=now)
                )
            until = incident.silenced_until
            shorter = moved_from is not None and until is not None and until <= moved_from
            if until is None or until < silence.ends_at or shorter:
                target = max([silence.ends_at, *await _live_ends(conn, incident_id, now)])
                if target != until:
                    who = f"{silence.created_by or '?'} ({WHO})"
                    await self.incidents.silence(conn, incident, who, now, target - now)

    async def _gone(self, _source: str, incident_id: int, row_id: int, now: datetime) -> None:
        """A silence went before its end: close its row and lift what it held."""
        async with self.db.begin() as conn:
            incident = await self.incidents.load(conn, incident_id, lock=True)
            stmt = select(am_silences).where(am_silences.c.id == row_id)
            row = (await conn.execute(self.db.for_update(stmt))).first()
            if row is None or row.state != ACTIVE or row.updated_at > now - FRESH:
                return  # changed meanwhile (Unsilence pressed), or too new to be in the read
            await conn.execute(
                update(am_silences)
                .where(am_silences.c.id == row_id)
                .values(state=EXPIRED, ends_at=min(row.ends_at, now), updated_at=now)
            )
            until = incident.silenced_until
            if (
                row.ends_at - now <= SLACK
                or incident.status == Status.RESOLVED
                or until is None
                or until <= now
                or until > row.ends_at + timedelta(seconds=1)  # a longer one set here holds
            ):
                return
            rest = await _live_ends(conn, incident_id, now)
            if not rest:
                await self.incidents.unsilence(conn, incident, WHO, now)
            elif max(rest) < until:
                await self.incidents.silence(conn, incident, WHO, now, max(rest) - now)


async def _firing(conn: AsyncConnection, source: str) -> dict[int, list[dict[str, str]]]:
    """Label sets of the firing alerts of open incidents whose firing alerts all come from
    `source`, by incident."""
    mine = select(alerts.c.incident_id).where(
        and_(alerts.c.source == source, alerts.c.status == "firing")
    )
    stmt = (
        select(alerts.c.incident_id, alerts.c.source, alerts.c.labels)
        .join(incidents, incidents.c.id == alerts.c.incident_id)
        .where(
            and_(
                incidents.c.status != "resolved",
                alerts.c.status == "firing",
                alerts.c.incident_id.in_(mine),
            )
        )
        .order_by(alerts.c.incident_id)
        .limit(ALERTS_LIMIT)
    )
    found = (await conn.execute(stmt)).all()
    by_incident: dict[int, list[dict[str, str]]] = defaultdict(list)
    foreign: set[int] = set()
    for row in found:
        if row.source != source:
            foreign.add(row.incident_id)
        by_incident[row.incident_id].append({str(k): str(v) for k, v in row.labels.items()})
    if len(found) == ALERTS_LIMIT:  # the last incident's alerts may be cut short
        foreign.add(found[-1].incident_id)
    return {i: labels for i, labels in by_incident.items() if i not in foreign}


async def _rows(conn: AsyncConnection, source: str) -> list[Any]:
    """The source's active rows: found ones (for moves and ends) and Tocsin's (for ends)."""
    stmt = (
        select(am_silences)
        .where(
            and_(
                am_silences.c.source == source,
                am_silences.c.state == ACTIVE,
                am_silences.c.silence_id.is_not(None),
            )
        )
        .order_by(am_silences.c.id)
        .limit(ROWS_LIMIT)
    )
    return list((await conn.execute(stmt)).all())


async def _recorded(conn: AsyncConnection, source: str, ids: list[str]) -> list[Any]:
    """The rows, in any state, of the silences `ids`: Tocsin's own, and those found before
    (one taken back by an Unsilence stays taken back while Alertmanager still lists it)."""
    if not ids:
        return []
    c = am_silences.c
    stmt = select(c.origin, c.silence_id, c.incident_id, c.state, c.ends_at).where(
        and_(c.source == source, c.silence_id.in_(ids))
    )
    return list((await conn.execute(stmt)).all())


async def _row(
    conn: AsyncConnection, db: Database, source: str, incident_id: int, silence_id: str
) -> Any:
    stmt = select(am_silences).where(
        and_(
            am_silences.c.source == source,
            am_silences.c.incident_id == incident_id,
            am_silences.c.silence_id == silence_id,
        )
    )
    return (await conn.execute(db.for_update(stmt))).first()


async def _live_ends(conn: AsyncConnection, incident_id: int, now: datetime) -> list[datetime]:
    """When each silence still holding the incident ends."""
    stmt = select(am_silences.c.ends_at).where(
        and_(
            am_silences.c.incident_id == incident_id,
            am_silences.c.state.in_(LIVE),
            am_silences.c.ends_at > now,
        )
    )
    return [row.ends_at for row in await conn.execute(stmt)]
