"""The escalation timers: one row per incident, advanced by idempotent engine passes.

`start` gives every triggered incident whose episode has no escalation yet a row (its policy's
steps frozen into it); `run_due` claims the rows whose step is due (``FOR UPDATE SKIP LOCKED``
on PostgreSQL), pages the step's people and moves the row on, all in one transaction. A page
is a row keyed by (incident, cycle, loop, step, recipient, channel): written once, whichever
replica runs the step, and chat pages go out through the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.errors import UserError
from bot.escalation.batch import MOVE, PAGE_KEY, Batch
from bot.escalation.channels import Delivery, choose
from bot.escalation.plan import Plan, plan_for, route_channels
from bot.escalation.recipients import Recipient, resolve
from bot.incidents.aggregate import Incident
from bot.incidents.repository import IncidentRepository
from bot.incidents.status import Status, card_ref
from bot.maintenance.paging import HELD, Paging, new_holds
from bot.metrics import Metrics
from bot.model import Tier
from bot.oncall.store import active_overrides
from bot.outbox.enqueue import Outbox
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import escalation_log, escalations, incidents, pages, round_robin

log = structlog.get_logger(__name__)

ACTIVE, STOPPED, EXHAUSTED, NONE = "active", "stopped", "exhausted", "none"
BATCH = 200


class Escalator:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        outbox: Outbox,
        clock: Clock,
        metrics: Metrics,
        *,
        chat_platforms: Collection[str],
        notifiers: Collection[str],
    ) -> None:
        self.settings, self.db, self.outbox, self.clock = settings, db, outbox, clock
        self.metrics = metrics
        self.chat_platforms = frozenset(chat_platforms)
        self.notifiers = frozenset(notifiers)
        self.incidents = IncidentRepository(db)

    # -- passes -----------------------------------------------------------------------------

    async def start(self, now: datetime) -> int:
        """Open an escalation for each triggered incident whose episode has none (engine pass)."""
        episode = func.coalesce(incidents.c.triggered_at, incidents.c.created_at)
        stmt = (
            select(
                incidents.c.id,
                incidents.c.route,
                incidents.c.tier,
                incidents.c.service,
                incidents.c.labels,
                episode.label("episode"),
                incidents.c.environment,
            )
            .select_from(
                incidents.outerjoin(escalations, escalations.c.incident_id == incidents.c.id)
            )
            .where(
                and_(
                    incidents.c.status == Status.TRIGGERED,
                    or_(escalations.c.incident_id.is_(None), escalations.c.episode != episode),
                )
            )
            # one order for everyone: two passes (two replicas, or the round and the timers
            # of one) opening the same incidents upsert them in the same order and wait for
            # each other, instead of each locking a row the other needs (a deadlock)
            .order_by(incidents.c.id)
            .limit(BATCH)
        )
        async with self.db.begin() as conn:
            rows = (await conn.execute(stmt)).all()
            meet = await self._paging(now).load(conn, [row.id for row in rows])
            for row in rows:
                meet.begin(row.id)  # a new episode: marked with the window it begins in
                await self._open(conn, row, now)
            await meet.write(conn)
        return len(rows)

    def _paging(self, now: datetime) -> Paging:
        return Paging(self.settings.maintenance.page_tiers, now)

    async def _open(self, conn: AsyncConnection, row: Any, now: datetime) -> None:
        plan = plan_for(self.settings, row.route, Tier(row.tier), row.service, row.labels)
        values = {
            "incident_id": row.id,
            "policy": plan.policy if plan else "",
            "plan": plan.to_json() if plan else {},
            "episode": row.episode,
            "cycle": 1,
            "step": 0,
            "loop": 0,
            "state": ACTIVE if plan else NONE,
            "next_at": now if plan else None,
            "updated_at": now,
        }
        insert = self.db.insert(escalations).values(**values)
        fresh = {k: v for k, v in values.items() if k not in ("incident_id", "cycle")}
        stmt = insert.on_conflict_do_update(
            index_elements=[escalations.c.incident_id],
            set_={**fresh, "cycle": escalations.c.cycle + 1},
            where=escalations.c.episode != insert.excluded.episode,
        )
        await conn.execute(stmt)
        if not plan:
            await self._log(conn, row.id, 0, 0, 0, "none", now, now, {"route": row.route})

    async def run_due(self) -> int:
        """Run every step that is due (engine pass); returns how many rows it advanced.

        A batch's writes go out as one statement per table, whatever its size."""
        now = self.clock.now()
        stmt = self.db.for_update(
            select(escalations)
            .where(and_(escalations.c.state == ACTIVE, escalations.c.next_at <= now))
            .order_by(escalations.c.next_at)
            .limit(BATCH),
            skip_locked=True,
        )
        async with self.db.begin() as conn:
            due = (await conn.execute(stmt)).all()
            if not due:
                return 0
            ids = [row.incident_id for row in due]
            by_id = await self.incidents.by_ids(conn, ids)
            batch = Batch(await active_overrides(conn, now))
            meet = await self._paging(now).load(conn, ids)
            for esc in due:
                await self._advance(conn, batch, esc, by_id.get(esc.incident_id), meet)
            await meet.write(conn)
            batch.logs = await new_holds(conn, batch.logs)
            await self._write(conn, batch, by_id)
        return len(due)

    async def _advance(
        self,
        conn: AsyncConnection,
        batch: Batch,
        esc: Any,
        incident: Incident | None,
        meet: Paging,
    ) -> None:
        now = self.clock.now()
        episode = incident.triggered_at or incident.created_at if incident is not None else None
        if incident is None or incident.status != Status.TRIGGERED or episode != esc.episode:
            why = "resolved" if incident is None else str(incident.status)
            by = incident.acked_by or incident.resolved_by or "" if incident is not None else ""
            batch.move(esc, now, state=STOPPED, next_at=None)
            batch.log(esc, "stopped", now, {"why": why, "by": by})
            return
        if incident.silenced_until and incident.silenced_until > now:
            batch.move(esc, now, next_at=incident.silenced_until)
            return
        held = meet.meet(incident.id, incident.tier, esc.next_at)
        if held is not None:  # a maintenance window: this tier pages nobody until it ends
            next_at, held_for = meet.hold(held)
            batch.move(esc, now, next_at=next_at)
            batch.log(esc, HELD, now, held_for)
            return
        plan = Plan.from_json(esc.policy, esc.plan)
        step = plan.steps[min(esc.step, len(plan.steps) - 1)]
        turn = await batch.turn(conn, self.db, esc.policy, esc.step) if step.round_robin else None
        also = plan.responders if esc.step == 0 else ()
        found = resolve(step, self.settings, now, batch.overrides, turn, also=also)
        detail: dict[str, Any] = {
            "policy": esc.policy,
            "targets": [*step.targets, *also],
            "recipients": [],
            "notes": found.notes,
        }
        if (window := meet.window(incident.id)) is not None:  # a tier that pages all the same
            detail["notes"].append({"key": "why.maintenance_pages", "id": window.id})
        for recipient in found.recipients:
            deliveries, notes = self._deliveries(recipient, incident)
            detail["notes"] += notes
            channels: list[str] = []
            detail["recipients"].append(
                {"id": recipient.key, "via": recipient.via, "channels": channels}
            )
            for delivery in deliveries:
                batch.page(esc, incident, recipient, delivery, now, channels)
        nxt = plan.after(esc.step, esc.loop)
        if nxt is None:
            batch.move(esc, now, state=EXHAUSTED, next_at=None)
        else:
            next_at = now + timedelta(seconds=step.delay)
            batch.move(esc, now, step=nxt[0], loop=nxt[1], next_at=next_at)
            detail["next_at"] = next_at.isoformat()
        batch.log(esc, "step", now, detail)
        self.metrics.escalation_steps.labels(esc.policy).inc()
        self.metrics.escalation_lateness.observe(max((now - esc.next_at).total_seconds(), 0.0))

    def _deliveries(
        self, recipient: Recipient, incident: Incident
    ) -> tuple[list[Delivery], list[dict[str, Any]]]:
        if recipient.kind == "chat":
            return [Delivery("chat", recipient.id)], []
        return choose(
            self.settings,
            recipient.id,
            incident.tier,
            route_notify=route_channels(self.settings, incident.route),
            chat_platforms=self.chat_platforms,
            notifiers=self.notifiers,
        )

    async def _write(self, conn: AsyncConnection, batch: Batch, by_id: dict[int, Incident]) -> None:
        """Pages first (each key once: a page another pass already wrote is left out), then
        the chat messages of the new chat pages, the timers and the log."""
        if batch.pages:
            stmt = self.db.insert(pages).on_conflict_do_nothing().returning(*PAGE_KEY)
            written = {tuple(row) for row in await conn.execute(stmt, batch.pages)}
        else:
            written = set()
        messages: list[dict[str, object]] = []
        paged_to: dict[int, list[str]] = {}
        for row in batch.pages:
            key = tuple(row[c.name] for c in PAGE_KEY)
            if key not in written:
                continue
            channel = str(row["channel"])
            batch.channels[key].append(channel)
            self.metrics.pages.labels(channel, str(row["status"])).inc()
            if channel == "chat":
                incident = by_id[int(str(row["incident_id"]))]
                policy = batch.policies[incident.id]
                messages += self._chat_page(incident, row, policy, paged_to)
        await self.outbox.insert(conn, messages)
        if paged_to:
            await conn.execute(
                update(incidents)
                .where(incidents.c.id == bindparam("b_id"))
                .values(
                    page_destinations=bindparam("b_dests", type_=incidents.c.page_destinations.type)
                ),
                [{"b_id": k, "b_dests": v} for k, v in paged_to.items()],
            )
        if batch.moves:
            await conn.execute(MOVE, list(batch.moves.values()))
        if batch.logs:
            await conn.execute(escalation_log.insert(), batch.logs)
        for (policy, step), counter in batch.turns.items():
            await conn.execute(
                update(round_robin)
                .where(and_(round_robin.c.policy == policy, round_robin.c.step == step))
                .values(counter=counter)
            )

    def _chat_page(
        self,
        incident: Incident,
        row: dict[str, object],
        policy: str,
        paged_to: dict[int, list[str]],
    ) -> list[dict[str, object]]:
        dests = str(row["address"]).split(",")
        ref, priority, now = card_ref(incident.id), incident.tier.rank, row["created_at"]
        assert isinstance(now, datetime)
        known = paged_to.setdefault(incident.id, list(incident.page_destinations or []))
        # the card's first post in a chat is the page; where the card is already shown (and
        # an in-place edit rings nobody), a threaded reminder is
        shown = [d for d in dests if d in known or d in incident.destinations]
        known += [d for d in dests if d not in shown]
        recipient = str(row["recipient"])
        key = "page.chat_group" if recipient.startswith("chat:") else "page.chat"
        params = {
            "id": incident.id,
            "tier": str(incident.tier),
            "title": incident.title,
            "step": int(str(row["step"])) + 1,
            "policy": policy,
        }
        return [
            *self.outbox.card_rows(ref, dests, priority=priority, now=now),
            *self.outbox.text_rows(
                shown, key, params, now=now, reply_to_card=ref, priority=priority
            ),
        ]

    async def _log(
        self,
        conn: AsyncConnection,
        incident_id: int,
        cycle: int,
        loop: int,
        step: int,
        kind: str,
        due: datetime,
        ran: datetime,
        detail: dict[str, Any],
    ) -> None:
        await conn.execute(
            escalation_log.insert().values(
                incident_id=incident_id,
                cycle=cycle,
                loop=loop,
                step=step,
                kind=kind,
                due_at=due,
                ran_at=ran,
                detail=detail,
            )
        )

    # -- from people ------------------------------------------------------------------------

    async def escalate_now(self, conn: AsyncConnection, incident: Incident, now: datetime) -> str:
        """Run the incident's next step now ("Escalate"); returns a catalogue key saying what
        happened. After the last step, the last step pages again."""
        try:
            incident.escalate()
        except UserError as refused:
            return refused.text_key
        row = (
            await conn.execute(
                self.db.for_update(
                    select(escalations).where(escalations.c.incident_id == incident.id)
                )
            )
        ).first()
        if row is None or row.state == NONE:
            return "escalation.no_policy"
        values: dict[str, Any] = {"state": ACTIVE, "next_at": now, "updated_at": now}
        if row.state == EXHAUSTED:
            plan = Plan.from_json(row.policy, row.plan)
            values.update(step=len(plan.steps) - 1, loop=row.loop + 1)
        await conn.execute(
            update(escalations).where(escalations.c.incident_id == incident.id).values(**values)
        )
        return "escalation.escalated"
