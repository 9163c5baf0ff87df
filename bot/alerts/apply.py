"""Applying alerts that change something: new alerts, resolutions, re-firing, flapping.

Locks are taken in one order by every writer: the changed alerts by id, then their incidents by
id; an incident found or opened for a new group is locked when it is first met. Each touched
incident is written once and gets one (coalescing) card row in the outbox, however many of its
alerts the request carried; the alert updates, incident updates and outbox rows of a transaction
go out as one statement each.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.alerts import limits
from bot.alerts.event import AlertEvent, AlertStatus
from bot.alerts.result import IngestResult, is_repeat
from bot.alerts.routing import (
    ENV_LABELS,
    SERVICE_LABELS,
    Routing,
    first_label,
    group_signature,
    route_for,
    tier_for,
)
from bot.alerts.statements import INCIDENT_STATE, statements
from bot.incidents.aggregate import Incident
from bot.incidents.events import Announce, RefreshCard
from bot.incidents.repository import from_row
from bot.incidents.status import Status, card_destinations, card_ref
from bot.model import Tier
from bot.store.keys import bounded

if TYPE_CHECKING:
    from bot.alerts.ingest import IngestService

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Touched:
    """An incident touched by this request, with what changed."""

    incident: Incident
    firing_delta: int = 0
    alert_delta: int = 0
    tier: Tier = Tier.P3
    new: bool = False
    retriggered: bool = False
    flapping: bool = False

    @property
    def firing(self) -> int:
        return self.incident.firing_count + self.firing_delta

    @property
    def dirty(self) -> bool:
        return bool(
            self.firing_delta
            or self.alert_delta
            or self.new
            or self.retriggered
            or self.flapping
            or self.tier != self.incident.tier
        )

    @classmethod
    def of(cls, row: Any, *, new: bool = False) -> _Touched:
        """A locked incident row, as met (its current tier, nothing changed yet)."""
        incident = from_row(row)
        return cls(incident, tier=incident.tier, new=new)


class Changes:
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
        self.seen: list[tuple[int, int]] = []
        """Alerts that turned out to be repeats once locked (another request got there first)."""
        self.pending: list[tuple[AlertEvent, _Touched]] = []
        self.stored: list[tuple[tuple[str, str], int, AlertEvent]] = []
        """Alerts written as `event` says, by key and id (what this process may remember)."""
        self.sql = statements(self.db.is_sqlite)
        self.groups: dict[str, _Touched] = {}
        # Written at the end, one statement each whatever the number of rows (asyncpg sends
        # an executemany in one round trip): a resolution storm is three statements, not
        # three per alert.
        self.alert_writes: list[dict[str, Any]] = []
        self.incident_writes: list[dict[str, Any]] = []
        self.messages: list[dict[str, object]] = []
        self.new_cards: list[tuple[str, list[str], int]] = []
        """Cards of incidents opened by this change: (card, destinations, priority)."""

    async def run(self, events: list[AlertEvent], known_ids: dict[tuple[str, str], int]) -> None:
        ids = sorted(
            known_ids[(e.source, e.fingerprint)]
            for e in events
            if (e.source, e.fingerprint) in known_ids
        )
        locked: dict[tuple[str, str], Any] = {}
        if ids:
            rows = await self.conn.execute(self.sql.lock_alerts, {"ids": ids})
            for alert in rows.all():
                locked[(alert.source, alert.fingerprint)] = alert
        await self._lock_incidents({r.incident_id for r in locked.values()})
        for event in events:
            known = locked.get((event.source, event.fingerprint))
            if known is None:
                await self._new_alert(event)
            else:
                await self._known_alert(event, known)
        await self._insert_new()
        for incident_id in sorted(self.touched):
            if self.touched[incident_id].dirty:
                await self._write_incident(incident_id, self.touched[incident_id])
        if self.alert_writes:
            await self.conn.execute(self.sql.set_alert, self.alert_writes)
        if self.incident_writes:
            await self.conn.execute(self.sql.write_incident, self.incident_writes)
        await self.svc.outbox.insert(self.conn, self.messages)
        # last, right before the commit: folding a card into a storm digest locks the digest's
        # row, which every other ingest into that chat waits for until this one commits
        for ref, destinations, priority in self.new_cards:
            await self.svc.outbox.card(
                self.conn, ref, destinations, priority=priority, now=self.now, new=True
            )

    async def _lock_incidents(self, ids: set[int]) -> None:
        ids -= self.touched.keys()
        if not ids:
            return
        rows = await self.conn.execute(self.sql.lock_incidents, {"ids": sorted(ids)})
        for row in rows.all():
            self.touched[row.id] = _Touched.of(row)

    def _copies(self, event: AlertEvent) -> int:
        return self.copies.get((event.source, event.fingerprint), 1)

    # -- alerts -------------------------------------------------------------------------------

    async def _new_alert(self, event: AlertEvent) -> None:
        if event.status == AlertStatus.RESOLVED:
            self.result.ignored += 1  # resolved before we ever saw it firing: nothing to tell
            return
        incident = await self._incident_for(event)
        self.pending.append((event, incident))

    async def _insert_new(self) -> None:
        """Store the new alerts of this request in one statement."""
        if not self.pending:
            return
        rows: list[dict[str, Any]] = [
            {
                "source": event.source,
                "fingerprint": event.fingerprint,
                "status": event.status,
                "name": event.name[: limits.NAME],
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
                "incident_id": incident.incident.id,
            }
            for event, incident in self.pending
        ]
        result = await self.conn.execute(self.sql.insert_alerts, rows)
        stored = {(r.source, r.fingerprint): r.id for r in result.all()}
        pending, self.pending = self.pending, []
        for event, incident in pending:
            key = (event.source, event.fingerprint)
            if key in stored:
                self.stored.append((key, stored[key], event))
                incident.firing_delta += 1
                incident.alert_delta += 1
                continue
            # another request stored it a moment ago: treat it as known
            where = {"source": event.source, "fingerprint": event.fingerprint}
            row = (await self.conn.execute(self.sql.lock_alert, where)).one()
            await self._lock_incidents({row.incident_id})
            await self._known_alert(event, row)

    async def _known_alert(self, event: AlertEvent, row: Any) -> None:
        incident = self.touched[row.incident_id]
        if is_repeat(event, row.status, row.starts_at, incident.incident.status):
            self.seen.append((row.id, self._copies(event)))
            return
        changes = self._changes(row)
        if event.status == AlertStatus.RESOLVED:
            event = _as_resolution(event, row)
            self._set_alert(row, event, changes, incident.incident.id)
            incident.firing_delta -= 1
            self._flap(incident, changes)
            return
        # firing again: after a resolve, or a new occurrence of a manually resolved alert
        resolved = incident.incident.status == Status.RESOLVED
        if resolved and not self._reopenable(incident.incident):
            incident = await self._incident_for(event)
            incident.alert_delta += 1
        elif resolved:
            incident.retriggered = True
        self._set_alert(row, event, changes, incident.incident.id)
        incident.firing_delta += 1
        self._flap(incident, changes)

    def _changes(self, row: Any) -> list[str]:
        horizon = self.now - self.settings.incidents.flapping.window
        kept = [c for c in row.changes if datetime.fromisoformat(c) > horizon]
        return [*kept, self.now.isoformat()]

    def _flap(self, incident: _Touched, changes: list[str]) -> None:
        if len(changes) >= self.settings.incidents.flapping.max_changes:
            incident.flapping = True

    def _set_alert(self, row: Any, event: AlertEvent, changes: list[str], incident_id: int) -> None:
        self.stored.append(((event.source, event.fingerprint), row.id, event))
        self.alert_writes.append(
            {
                "alert_id": row.id,
                "v_status": str(event.status),
                "v_starts_at": event.starts_at or row.starts_at,
                "v_ends_at": event.ends_at,
                "v_now": self.now,
                "v_changes": changes,
                "v_n": self._copies(event),
                "v_incident": incident_id,
                "v_labels": event.labels,
                "v_annotations": event.annotations,
                "v_summary": event.summary,
            },
        )

    def _reopenable(self, incident: Incident) -> bool:
        window: timedelta = self.settings.incidents.reopen_window
        return bool(incident.resolved_at and incident.resolved_at >= self.now - window)

    # -- incidents ----------------------------------------------------------------------------

    async def _incident_for(self, event: AlertEvent) -> _Touched:
        """The open incident of the alert's group, a recently resolved one to re-open, or a new
        one."""
        tier = tier_for(event.labels, self.settings)
        routing = route_for(event.labels, tier, self.settings)
        if routing is None:
            self.result.unrouted += 1
            log.warning(
                "alert matched no route", source=event.source, alert=event.name, labels=event.labels
            )
        group_key = self._group_key(event, routing)
        cached = self.groups.get(group_key)
        if cached is not None:
            if Tier(tier).rank < Tier(cached.tier).rank:
                cached.tier = tier
            return cached
        self.groups[group_key] = touched = await self._find_or_open(event, tier, routing, group_key)
        return touched

    async def _find_or_open(
        self, event: AlertEvent, tier: Tier, routing: Routing | None, group_key: str
    ) -> _Touched:
        since = self.now - self.settings.incidents.reopen_window
        found = await self.conn.execute(
            self.sql.find_group, {"group_key": group_key, "since": since}
        )
        row = found.first()
        if row is None:
            return await self._open(event, tier, routing, group_key)
        touched = self.touched.get(row.id)
        if touched is None:
            touched = self.touched[row.id] = _Touched.of(row)
        if row.status == Status.RESOLVED:
            touched.retriggered = True
        if Tier(tier).rank < Tier(touched.tier).rank:
            touched.tier = tier
        return touched

    def _group_key(self, event: AlertEvent, routing: Routing | None) -> str:
        if routing is None:
            key = f"unrouted|{event.labels.get('alertname', '')}"
        else:
            signature = group_signature(event.labels, event.group_key, routing.route)
            key = f"{routing.route_name}|{signature}"
        return bounded(key, limits.GROUP_KEY)

    async def _open(
        self, event: AlertEvent, tier: Tier, routing: Routing | None, group_key: str
    ) -> _Touched:
        service = first_label(event.labels, SERVICE_LABELS)
        title = event.name if not service or service in event.name else f"{event.name} · {service}"
        route = routing.route_name if routing else "unrouted"
        environment = first_label(event.labels, ENV_LABELS)
        values = {
            "group_key": group_key,
            "route": bounded(route, limits.ROUTE),
            "tier": tier.value,
            "title": title[: limits.TITLE],
            "summary": event.summary,
            "service": bounded(service, limits.SERVICE),
            "environment": bounded(environment, limits.ENVIRONMENT),
            "labels": event.labels,
            "status": str(Status.TRIGGERED),
            "flapping": False,
            "firing_count": 0,
            "alert_count": 0,
            "destinations": [str(d) for d in routing.destinations] if routing else [],
            "created_at": self.now,
            "updated_at": self.now,
            "triggered_at": self.now,
            "version": 1,
        }
        row = (await self.conn.execute(self.sql.insert_incident, values)).first()
        if row is None:  # another request opened it a moment ago: join it
            row = (await self.conn.execute(self.sql.open_group, {"group_key": group_key})).one()
            touched = self.touched.setdefault(row.id, _Touched.of(row))
            return touched
        touched = self.touched[row.id] = _Touched.of(row, new=True)
        self.result.opened += 1
        return touched

    async def _write_incident(self, incident_id: int, item: _Touched) -> None:
        """Let the incident decide what its alerts' changes make of it; queue its write and
        what the change asks for (cards, the re-triggered notice)."""
        before = item.incident
        change = before.observe(
            self.now,
            firing=item.firing,
            alerts=before.alert_count + item.alert_delta,
            tier=item.tier,
            card_delay=self.settings.outbox.update_delay,
            flapping_seen=item.flapping,
            reopen=item.retriggered,
            new=item.new,
        )
        after = change.after
        state = {name: getattr(after, name) for name in INCIDENT_STATE}
        state.update(status=str(after.status), tier=str(after.tier))
        self.incident_writes.append(
            {"incident_id": incident_id} | {f"v_{k}": v for k, v in state.items()}
        )
        if not item.new:
            self.result.updated += 1
        if after.status == Status.RESOLVED and before.status != Status.RESOLVED:
            self.result.resolved += 1
        self.result.incident_ids.append(incident_id)
        priority = after.tier.rank
        outbox = self.svc.outbox
        for event in change.events:
            if isinstance(event, RefreshCard):
                self.result.urgent = True
                ref, destinations = card_ref(incident_id), card_destinations(after)
                if item.new:  # a new card may be folded into a digest during a storm: see `run`
                    self.new_cards.append((ref, destinations, priority))
                else:
                    self.messages += outbox.card_rows(
                        ref, destinations, priority=priority, now=self.now
                    )
            elif isinstance(event, Announce):
                self.messages += outbox.text_rows(
                    after.destinations,
                    event.key,
                    event.params,
                    now=self.now,
                    reply_to_card=card_ref(incident_id),
                    priority=priority,
                )


def _as_resolution(event: AlertEvent, row: Any) -> AlertEvent:
    """A resolution says which alert ended; the alert keeps the labels it fired with, and the
    resolution's annotations are added to its own. Alertmanager resends the same labels, but a
    vendor's resolution often carries less (Sentry's resolved issue has no rule name or tags,
    a Kibana recovery no context), and history should show what fired, not what ended it."""
    return replace(
        event,
        labels=dict(row.labels),
        annotations={**row.annotations, **event.annotations},
    )
