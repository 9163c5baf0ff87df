"""Alert ingest: de-duplicate on fingerprint, group into incidents, resolve, damp flapping.

One request's alerts are handled in one transaction; each touched incident is written once and
gets one (coalescing) card row in the outbox, whatever the number of its alerts in the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, bindparam, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.alerts.event import AlertEvent, AlertStatus
from bot.alerts.routing import (
    ENV_LABELS,
    SERVICE_LABELS,
    Routing,
    first_label,
    group_signature,
    route_for,
    tier_for,
)
from bot.clock import Clock
from bot.incidents.status import Status, card_ref
from bot.model import Tier
from bot.outbox.enqueue import Outbox
from bot.settings.schema import Settings
from bot.store.db import Database
from bot.store.tables import alerts, incidents

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class IngestResult:
    received: int = 0
    deduplicated: int = 0
    opened: int = 0
    updated: int = 0
    resolved: int = 0
    ignored: int = 0
    unrouted: int = 0
    incident_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Touched:
    """An incident touched by this request, with what changed."""

    row: Any
    firing_delta: int = 0
    alert_delta: int = 0
    tier: str = ""
    new: bool = False
    retriggered: bool = False
    flapping: bool = False

    @property
    def firing(self) -> int:
        return int(self.row.firing_count) + self.firing_delta


class IngestService:
    def __init__(self, db: Database, outbox: Outbox, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.outbox = outbox
        self.settings = settings
        self.clock = clock

    async def ingest(self, events: list[AlertEvent]) -> IngestResult:
        result = IngestResult(received=len(events))
        latest: dict[tuple[str, str], AlertEvent] = {}
        copies: dict[tuple[str, str], int] = {}
        for event in events:  # one request may repeat an alert: its last word counts
            key = (event.source, event.fingerprint)
            if key in latest:
                result.deduplicated += 1
            latest[key] = event
            copies[key] = copies.get(key, 0) + 1
        if not latest:
            return result
        now = self.clock.now()
        async with self.db.begin() as conn:
            await _Batch(self, conn, now, result, copies).run(list(latest.values()))
        return result


class _Batch:
    def __init__(
        self,
        svc: IngestService,
        conn: AsyncConnection,
        now: datetime,
        result: IngestResult,
        copies: dict[tuple[str, str], int],
    ) -> None:
        self.svc, self.conn, self.now, self.result = svc, conn, now, result
        self.copies = copies
        self.db = svc.db
        self.settings = svc.settings
        self.touched: dict[int, _Touched] = {}
        self.seen: list[dict[str, Any]] = []

    async def run(self, events: list[AlertEvent]) -> None:
        keys = sorted((e.source, e.fingerprint) for e in events)
        stmt = select(alerts).where(tuple_(alerts.c.source, alerts.c.fingerprint).in_(keys))
        existing = {
            (r.source, r.fingerprint): r
            for r in (await self.conn.execute(self.db.for_update(stmt))).all()
        }
        await self._load_incidents({r.incident_id for r in existing.values()})
        for event in sorted(events, key=lambda e: (e.source, e.fingerprint)):
            row = existing.get((event.source, event.fingerprint))
            if row is None:
                await self._new_alert(event)
            else:
                await self._known_alert(event, row)
        await self._flush()

    async def _load_incidents(self, ids: set[int]) -> None:
        ids -= self.touched.keys()
        if not ids:
            return
        stmt = select(incidents).where(incidents.c.id.in_(sorted(ids))).order_by(incidents.c.id)
        for row in (await self.conn.execute(self.db.for_update(stmt))).all():
            self.touched[row.id] = _Touched(row, tier=row.tier)

    # -- alerts -------------------------------------------------------------------------------

    async def _new_alert(self, event: AlertEvent) -> None:
        if event.status == AlertStatus.RESOLVED:
            self.result.ignored += 1  # resolved before we ever saw it firing: nothing to tell
            return
        incident = await self._incident_for(event)
        values = {
            "source": event.source,
            "fingerprint": event.fingerprint,
            "status": event.status,
            "name": event.name[:256],
            "summary": event.summary,
            "labels": event.labels,
            "annotations": event.annotations,
            "generator_url": event.generator_url,
            "starts_at": event.starts_at,
            "ends_at": event.ends_at,
            "first_seen_at": self.now,
            "last_seen_at": self.now,
            "received_count": self._copies(event),
            "changes": [],
            "incident_id": incident.row.id,
        }
        inserted = (
            await self.conn.execute(
                self.db.insert(alerts)
                .values(**values)
                .on_conflict_do_nothing()
                .returning(alerts.c.id)
            )
        ).first()
        if inserted is None:  # another request inserted it a moment ago: treat it as known
            stmt = select(alerts).where(
                and_(alerts.c.source == event.source, alerts.c.fingerprint == event.fingerprint)
            )
            await self._known_alert(
                event, (await self.conn.execute(self.db.for_update(stmt))).one()
            )
            return
        incident.firing_delta += 1
        incident.alert_delta += 1

    async def _known_alert(self, event: AlertEvent, row: Any) -> None:
        await self._load_incidents({row.incident_id})
        incident = self.touched[row.incident_id]
        same_occurrence = event.starts_at is None or row.starts_at == event.starts_at
        repeat = event.status == row.status and (
            event.status == AlertStatus.RESOLVED
            or same_occurrence
            or incident.row.status != Status.RESOLVED
        )
        if repeat:  # a re-delivery; only a new occurrence of a resolved incident's alert is news
            self.result.deduplicated += 1
            self.seen.append({"b_id": row.id, "b_seen": self.now, "b_n": self._copies(event)})
            return
        changes = self._changes(row)
        if event.status == AlertStatus.RESOLVED:
            await self._set_alert(row, event, changes, incident.row.id)
            incident.firing_delta -= 1
            self._flap(incident, changes)
            return
        # firing again (after a resolve, or a new occurrence of a manually resolved alert)
        if incident.row.status == Status.RESOLVED and not self._reopenable(incident.row):
            incident = await self._incident_for(event)
            incident.alert_delta += 1
        elif incident.row.status == Status.RESOLVED:
            incident.retriggered = True
        await self._set_alert(row, event, changes, incident.row.id)
        incident.firing_delta += 1
        self._flap(incident, changes)

    def _copies(self, event: AlertEvent) -> int:
        return self.copies.get((event.source, event.fingerprint), 1)

    def _changes(self, row: Any) -> list[str]:
        window = self.settings.incidents.flapping.window
        horizon = self.now - window
        kept = [c for c in row.changes if datetime.fromisoformat(c) > horizon]
        return [*kept, self.now.isoformat()]

    def _flap(self, incident: _Touched, changes: list[str]) -> None:
        if len(changes) >= self.settings.incidents.flapping.max_changes:
            incident.flapping = True

    async def _set_alert(
        self, row: Any, event: AlertEvent, changes: list[str], incident_id: int
    ) -> None:
        await self.conn.execute(
            update(alerts)
            .where(alerts.c.id == row.id)
            .values(
                status=event.status,
                starts_at=event.starts_at or row.starts_at,
                ends_at=event.ends_at,
                last_seen_at=self.now,
                changes=changes,
                received_count=alerts.c.received_count + self._copies(event),
                incident_id=incident_id,
                labels=event.labels,
                annotations=event.annotations,
                summary=event.summary,
            )
        )

    def _reopenable(self, row: Any) -> bool:
        window: timedelta = self.settings.incidents.reopen_window
        return bool(row.resolved_at and row.resolved_at >= self.now - window)

    # -- incidents ----------------------------------------------------------------------------

    async def _incident_for(self, event: AlertEvent) -> _Touched:
        tier = tier_for(event.labels, self.settings)
        routing = route_for(event.labels, tier, self.settings)
        if routing is None:
            self.result.unrouted += 1
            log.warning(
                "alert matched no route", source=event.source, alert=event.name, labels=event.labels
            )
        group_key = self._group_key(event, routing)
        open_stmt = select(incidents).where(
            and_(incidents.c.group_key == group_key, incidents.c.status != Status.RESOLVED)
        )
        row = (await self.conn.execute(self.db.for_update(open_stmt))).first()
        if row is None:
            row = await self._reopen_recent(group_key)
        if row is not None:
            touched = self.touched.get(row.id) or _Touched(row, tier=row.tier)
            self.touched[row.id] = touched
            if Tier(tier).rank < Tier(touched.tier).rank:
                touched.tier = tier
            return touched
        return await self._open(event, tier, routing, group_key, open_stmt)

    def _group_key(self, event: AlertEvent, routing: Routing | None) -> str:
        if routing is None:
            return f"unrouted|{event.labels.get('alertname', '')}"
        signature = group_signature(event.labels, event.group_key, routing.route)
        return f"{routing.route_name}|{signature}"

    async def _reopen_recent(self, group_key: str) -> Any:
        since = self.now - self.settings.incidents.reopen_window
        stmt = (
            select(incidents)
            .where(
                and_(
                    incidents.c.group_key == group_key,
                    incidents.c.status == Status.RESOLVED,
                    incidents.c.resolved_at >= since,
                )
            )
            .order_by(incidents.c.resolved_at.desc())
            .limit(1)
        )
        row = (await self.conn.execute(self.db.for_update(stmt))).first()
        if row is not None:
            touched = self.touched.setdefault(row.id, _Touched(row, tier=row.tier))
            touched.retriggered = True
        return row

    async def _open(
        self, event: AlertEvent, tier: Tier, routing: Routing | None, group_key: str, open_stmt: Any
    ) -> _Touched:
        service = first_label(event.labels, SERVICE_LABELS)
        title = event.name if not service or service in event.name else f"{event.name} · {service}"
        values = {
            "group_key": group_key,
            "route": routing.route_name if routing else "unrouted",
            "tier": tier.value,
            "title": title[:512],
            "summary": event.summary,
            "service": service,
            "environment": first_label(event.labels, ENV_LABELS),
            "labels": event.labels,
            "status": Status.TRIGGERED,
            "flapping": False,
            "firing_count": 0,
            "alert_count": 0,
            "destinations": [str(d) for d in routing.destinations] if routing else [],
            "created_at": self.now,
            "updated_at": self.now,
            "version": 1,
        }
        index_where = text("status != 'resolved'")  # a literal, or PostgreSQL cannot match
        inserted = (
            await self.conn.execute(
                self.db.insert(incidents)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["group_key"], index_where=index_where)
                .returning(incidents.c.id)
            )
        ).first()
        row = (await self.conn.execute(self.db.for_update(open_stmt))).one()
        touched = self.touched.setdefault(row.id, _Touched(row, tier=row.tier))
        if inserted is not None:
            touched.new = True
            self.result.opened += 1
        return touched

    async def _flush(self) -> None:
        if self.seen:
            await self.conn.execute(
                update(alerts)
                .where(alerts.c.id == bindparam("b_id"))
                .values(
                    last_seen_at=bindparam("b_seen"),
                    received_count=alerts.c.received_count + bindparam("b_n"),
                ),
                self.seen,
            )
        for incident_id, item in self.touched.items():
            if not (
                item.firing_delta
                or item.alert_delta
                or item.new
                or item.retriggered
                or item.flapping
                or item.tier != item.row.tier
            ):
                continue
            await self._write_incident(incident_id, item)

    async def _write_incident(self, incident_id: int, item: _Touched) -> None:
        row = item.row
        values: dict[str, Any] = {
            "firing_count": max(item.firing, 0),
            "alert_count": row.alert_count + item.alert_delta,
            "tier": item.tier,
            "updated_at": self.now,
            "version": incidents.c.version + 1,
        }
        if item.flapping:
            values["flapping"] = True
        flapping = item.flapping or row.flapping
        status = row.status
        if item.retriggered and item.firing > 0 and status == Status.RESOLVED:
            status = Status.TRIGGERED
            values.update(
                status=status,
                resolved_at=None,
                resolved_by=None,
                acked_by=None,
                acked_at=None,
                ack_expires_at=None,
            )
        elif item.firing <= 0 and status != Status.RESOLVED and not flapping:
            status = Status.RESOLVED
            values.update(
                status=status,
                resolved_at=self.now,
                resolved_by="monitoring",
                silenced_until=None,
                ack_expires_at=None,
            )
            self.result.resolved += 1
        await self.conn.execute(
            update(incidents).where(incidents.c.id == incident_id).values(**values)
        )
        if not item.new:
            self.result.updated += 1
        self.result.incident_ids.append(incident_id)
        priority = Tier(item.tier).rank
        await self.svc.outbox.card(
            self.conn,
            card_ref(incident_id),
            row.destinations,
            priority=priority,
            now=self.now,
            new=item.new,
        )
        if item.retriggered and status == Status.TRIGGERED and not flapping:
            for dest in row.destinations:
                await self.svc.outbox.text(
                    self.conn,
                    dest,
                    "incident.retriggered",
                    {"id": incident_id},
                    now=self.now,
                    reply_to_card=card_ref(incident_id),
                    priority=priority,
                )
