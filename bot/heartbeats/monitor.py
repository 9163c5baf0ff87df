"""The engine's heartbeat pass: missing heartbeats raise their alert, returning ones resolve it.

Each pass reads the table with each row's alert in one statement, then

1. gives each configured heartbeat met for the first time a row ("waiting", its clock started
   now); at a process's first pass, it also resolves what heartbeats no longer configured
   raised and deletes their rows (the table holds configured heartbeats only);
2. moves rows whose time came: past `interval + grace` without a beat → "missing" (since the
   deadline); "missing" with a beat after that → "ok". Each move locks its row (skipping rows
   another replica holds) and checks it again under the lock, so one replica makes it;
3. reconciles: each row's alert as it should be (firing while missing, resolved after) is
   compared with the alert as the intake holds it, by the intake's own repeat rule, and only
   what differs goes to the intake.

A replica that stops between a move and the intake loses nothing: the next pass, on any
replica, finds the alert differing from its row and raises (or resolves) it. Replicas that
reconcile at once hand the intake the same alert (it is made from the row), which keeps one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.alerts.event import AlertEvent
from bot.alerts.result import IngestResult, is_repeat
from bot.heartbeats import store
from bot.heartbeats.alert import back_alert, missing_alert
from bot.heartbeats.deadline import Move, Row, State, deadline, move
from bot.metrics import Metrics
from bot.settings import Settings
from bot.settings.watch import Heartbeat
from bot.store.db import Database
from bot.store.tables import heartbeats

log = structlog.get_logger(__name__)

GONE = Heartbeat(interval=timedelta(0))
"""Stands in for a heartbeat no longer configured, to word its resolved alert."""


class Intake(Protocol):
    """The alert intake (`IngestService`)."""

    async def ingest(self, events: Sequence[AlertEvent]) -> IngestResult: ...


class HeartbeatPass:
    def __init__(self, settings: Settings, db: Database, intake: Intake, metrics: Metrics) -> None:
        self.settings, self.db, self.intake, self.metrics = settings, db, intake, metrics
        self.beats = settings.heartbeats
        self._tidy = True
        """Rows of heartbeats no longer configured are looked for once, at this process's
        first pass: a replica still running an older configuration during a rolling update
        must not retire what the newer one added."""

    async def run(self, now: datetime) -> bool:
        """One pass; whether the intake has something to deliver now (a new incident)."""
        if not self.beats and not self._tidy:
            return False
        async with self.db.connect() as conn:
            found = await store.read(conn)
        if self._tidy:
            gone = [s for s in found if s.row.name not in self.beats]
            if gone:
                await self._retire(gone)
            self._tidy = False
        found = [s for s in found if s.row.name in self.beats]
        known = {s.row.name for s in found}
        new = [name for name in self.beats if name not in known]
        due = {s.row.name: m for s in found if (m := move(self.beats[s.row.name], s.row, now))}
        if due or new:
            await store.add(self.db, new, now)
            await self._move(due, now)
            async with self.db.connect() as conn:
                found = [s for s in await store.read(conn) if s.row.name in self.beats]
        urgent = await self._reconcile(found, now)
        self._measure([s.row for s in found])
        return urgent

    async def _move(self, due: dict[str, Move], now: datetime) -> None:
        """Make the moves still due under the rows' locks (another replica may have made them)."""
        if not due:
            return
        async with self.db.begin() as conn:
            for row in await store.lock(self.db, conn, sorted(due)):
                wanted = move(self.beats[row.name], row, now)
                if wanted is Move.OPEN:
                    since = deadline(self.beats[row.name], row)
                    await _set(conn, row.name, now, state=State.MISSING, missing_since=since)
                    log.warning("heartbeat missing", heartbeat=row.name, since=since.isoformat())
                elif wanted is Move.CLOSE:
                    await _set(conn, row.name, now, state=State.OK)
                    log.info("heartbeat back", heartbeat=row.name)

    async def _reconcile(self, found: Sequence[store.Stored], now: datetime) -> bool:
        """Hand the intake each alert that differs from its row."""
        news = [
            event
            for stored in found
            if (event := self._alert(stored.row, self.beats[stored.row.name], now)) is not None
            and _differs(event, stored)
        ]
        return bool(news) and (await self.intake.ingest(news)).urgent

    async def _retire(self, gone: Sequence[store.Stored]) -> None:
        """Heartbeats taken out of the configuration: resolve what they raised, drop the rows."""
        news = [
            event
            for s in gone
            if s.alert_status is not None
            and _differs(
                event := back_alert(s.row.name, GONE, s.row, lang=self._lang, tz=self._tz), s
            )
        ]
        if news:
            await self.intake.ingest(news)
        await store.drop(self.db, [s.row.name for s in gone])

    def _alert(self, row: Row, beat: Heartbeat, now: datetime) -> AlertEvent | None:
        """The alert as `row` says it should stand (None: it never went missing)."""
        if row.state == State.MISSING:
            return missing_alert(row.name, beat, row, lang=self._lang, tz=self._tz, now=now)
        if row.missing_since is not None:
            return back_alert(row.name, beat, row, lang=self._lang, tz=self._tz)
        return None

    def _measure(self, rows: Sequence[Row]) -> None:
        for row in rows:
            if row.last_seen_at is not None:
                self.metrics.heartbeat_last_seen.labels(row.name).set(row.last_seen_at.timestamp())
        self.metrics.heartbeats_missing.set(sum(row.state == State.MISSING for row in rows))

    @property
    def _lang(self) -> str:
        return self.settings.tocsin.language

    @property
    def _tz(self) -> str:
        return self.settings.tocsin.timezone


def _differs(event: AlertEvent, stored: store.Stored) -> bool:
    """Whether the intake would change anything, by the rule it applies itself."""
    if stored.alert_status is None:
        return event.status == "firing"
    return not is_repeat(
        event, stored.alert_status, stored.alert_starts_at, stored.incident_status or ""
    )


async def _set(conn: AsyncConnection, name: str, now: datetime, **values: object) -> None:
    await conn.execute(
        update(heartbeats).where(heartbeats.c.name == name).values(updated_at=now, **values)
    )
