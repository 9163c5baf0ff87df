"""Alert-triggered rollback: an incident matching `deploy.alert_rollback` (by default a P0) on a
service that a run changed shortly before proposes the rollback, or performs it when the
service's gate in that environment is in `auto` mode. Each incident is considered once, so at
most one automatic rollback follows from it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.deploys import ledger
from bot.deploys.canary import rollback_ask
from bot.deploys.messages import said
from bot.deploys.ops import SUCCEEDED
from bot.deploys.requests import Requests
from bot.deploys.run import Run
from bot.deploys.run_store import from_row
from bot.errors import CommandError
from bot.gates.runner import auto_rollback_guard
from bot.incidents.status import Status, card_ref
from bot.model import Tier
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import alert_rollbacks, incidents, runs

BATCH = 50


class AlertRollbacks:
    def __init__(self, settings: Settings, db: Database, requests: Requests) -> None:
        self.settings, self.db, self.requests = settings, db, requests

    async def run_once(self, now: datetime) -> int:
        rule = self.settings.deploy.alert_rollback
        if rule is None:
            return 0
        since = now - rule.within
        stmt = self.db.for_update(
            select(incidents)
            .where(
                and_(
                    ~exists().where(alert_rollbacks.c.incident_id == incidents.c.id),
                    incidents.c.status == Status.TRIGGERED,
                    incidents.c.created_at >= since,
                    incidents.c.tier.in_([t.value for t in rule.tiers]),
                    incidents.c.service != "",
                    incidents.c.environment != "",
                )
            )
            .limit(BATCH),
            skip_locked=True,
        )
        async with self.db.begin() as conn:
            found = (await conn.execute(stmt)).all()
            for incident in found:
                await self._consider(conn, incident, since, now)
        return len(found)

    async def _consider(
        self, conn: AsyncConnection, incident: Any, since: datetime, now: datetime
    ) -> None:
        found = (
            await conn.execute(
                select(runs)
                .where(
                    and_(
                        runs.c.service == incident.service,
                        runs.c.environment == incident.environment,
                        runs.c.action == "deploy",
                        runs.c.state == SUCCEEDED,
                        ~runs.c.dry_run,
                        runs.c.finished_at >= since,
                        runs.c.finished_at <= incident.created_at,
                    )
                )
                .order_by(runs.c.finished_at.desc())
                .limit(1)
            )
        ).first()
        recent = from_row(found) if found is not None else None
        decision = "none"
        if recent is not None and await ledger.superseded(conn, recent) is not None:
            decision = "superseded"  # already rolled back, or replaced: nothing to undo
        elif recent is not None:
            decision = await self._act(conn, incident, recent, now)
        await conn.execute(
            self.db.insert(alert_rollbacks)
            .values(
                incident_id=incident.id,
                run_id=recent.id if recent is not None else None,
                decision=decision,
                created_at=now,
            )
            .on_conflict_do_nothing()
        )

    async def _act(self, conn: AsyncConnection, incident: Any, run: Run, now: datetime) -> str:
        spec = self.settings.services.get(incident.service)
        gate = (spec.gate.get(incident.environment) or spec.gate.get("*")) if spec else None
        minutes = max(int((incident.created_at - run.finished_at).total_seconds() // 60), 0)
        params = {
            "id": incident.id,
            "run": run.id,
            "version": run.version,
            "service": incident.service,
            "minutes": minutes,
        }
        guard = await auto_rollback_guard(
            conn, incident.service, incident.environment, self.settings.deploy.retention
        )
        if gate is not None and gate.mode == "auto" and not guard:
            ask = rollback_ask(
                self.settings,
                run,
                "tocsin",
                said(
                    "deploy.reason.incident",
                    id=incident.id,
                    tier=incident.tier,
                    minutes=minutes,
                    run=run.id,
                    version=run.version,
                ),
                destinations=incident.destinations,
                incident_id=incident.id,
            )
            try:
                rollback = await self.requests.ask(conn, ask, now)
            except CommandError:
                return "impossible"
            params["rollback"] = rollback.id
            key, decision = "alert_rollback.started", "rolled_back"
        else:
            key, decision = "alert_rollback.proposed", "proposed"
        await self.requests.outbox.text(
            conn,
            incident.destinations,
            key,
            params,
            now=now,
            reply_to_card=card_ref(incident.id),
            priority=Tier(incident.tier).rank,
        )
        return decision
