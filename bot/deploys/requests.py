"""People's side of a run: asking for a deploy or rollback, confirming, approving, denying and
cancelling. Each runs inside the caller's transaction and queues an update of the run's card."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.authz import Person
from bot.deploy_port import DeployBackend, DeployRequest
from bot.deploys import ledger
from bot.deploys.ops import (
    ACTIVE,
    AWAITING_APPROVAL,
    AWAITING_CONFIRMATION,
    CANCELLED,
    CANCELLING,
    DENIED,
    ENDED,
    PARAM_KEY,
    QUEUED,
    ROLLBACK_FIRST,
    VERSION,
    WAITING,
    Stage,
    deploy_stage,
    op_hash,
    target_for,
)
from bot.errors import DeliveryError, PermissionDenied, UserError
from bot.oncall import on_call
from bot.oncall.store import active_overrides
from bot.outbox.enqueue import Outbox
from bot.settings import Settings
from bot.settings.deploy import Approval
from bot.store.db import Database
from bot.store.tables import run_approvals, runs


@dataclass(frozen=True, slots=True)
class Ask:
    """A deploy or rollback someone asked for."""

    action: str
    service: str
    environment: str
    version: str
    """For a rollback: the target ("" = the last verified version)."""
    params: dict[str, str]
    dry_run: bool
    requested_by: str
    destinations: Sequence[str]
    confirm: bool = True
    """The requester confirms on the card first (a pressed Rollback button already did)."""
    reason: str = ""
    incident_id: int | None = None
    stage: str | None = None
    """None: a deploy goes to its canary first when its gate has one (`deploy_stage`); a
    rollback concerns everything. ``canary`` / ``""`` say which for runs that follow a canary."""
    parent_id: int | None = None
    """The canary run that this run promotes or takes away."""
    previous: str | None = None
    """What runs now, when the ledger's latest run is not it (a canary's promotion)."""


log = structlog.get_logger(__name__)


def run_ref(run_id: int) -> str:
    return f"run:{run_id}"


class Requests:
    artifact_wait = 5.0
    """Seconds an artifact check may take. It runs inside the request's transaction, so a slow
    registry or check script answers "cannot tell" rather than hold the database (on SQLite,
    every other writer)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        outbox: Outbox,
        backends: Mapping[str, DeployBackend],
    ) -> None:
        self.settings, self.db, self.outbox = settings, db, outbox
        self.backends = backends

    async def ask(self, conn: AsyncConnection, ask: Ask, now: datetime) -> Any:
        """Record the run (validated); returns its row."""
        settings = self.settings.deploy
        if ask.service not in self.settings.services:
            raise UserError(
                "deploy.unknown_service",
                service=ask.service,
                known=", ".join(self.settings.services) or "-",
            )
        if ask.environment not in self.settings.service_environments(ask.service):
            raise UserError(
                "deploy.unknown_environment",
                service=ask.service,
                environment=ask.environment,
                known=", ".join(self.settings.service_environments(ask.service)),
            )
        try:
            backend, _target = target_for(self.settings, ask.service, ask.environment)
        except KeyError:
            raise UserError(
                "deploy.no_target", service=ask.service, environment=ask.environment
            ) from None
        for key in ask.params:
            if not PARAM_KEY.match(key):
                raise UserError("deploy.bad_param", name=key)
        previous = ask.previous
        if previous is None:
            previous = await ledger.current_version(conn, ask.service, ask.environment)
        verified = [
            v
            for v in await ledger.verified_versions(
                conn, ask.service, ask.environment, settings.retention + 1
            )
            if v != previous
        ]
        version = ask.version
        stage = self._stage(ask)
        params = dict(ask.params)
        if stage.param:
            params[stage.param] = str(stage.weight)
        if ask.action == "rollback" and ask.parent_id is None:
            if not version:
                version = await self._first_available(ask, backend, verified)
            elif version not in verified:
                raise UserError(
                    "deploy.not_verified",
                    version=version,
                    service=ask.service,
                    environment=ask.environment,
                )
            if not version:
                raise UserError(
                    "deploy.no_rollback_target", service=ask.service, environment=ask.environment
                )
        if not VERSION.match(version):
            raise UserError("deploy.bad_version", version=version)
        followed = ask.parent_id is not None  # a canary's release was just there
        if ask.version and not followed and await self._exists(ask, backend, version) is False:
            raise UserError("deploy.gone", version=version, backend=backend)
        policy = settings.approvals.get(ask.environment, Approval())
        needed = policy.rollback if ask.action == "rollback" else policy.deploy
        if ask.action == "deploy" and ask.parent_id is not None:
            needed = 0  # a promotion: its canary was approved
        if ask.confirm:
            state, due = AWAITING_CONFIRMATION, now + settings.confirm_timeout
        elif needed:
            state, due = AWAITING_APPROVAL, now + settings.approval_ttl
        else:
            state, due = QUEUED, now
        priority = 0
        if ask.action == "rollback":
            priority = ROLLBACK_FIRST + self.settings.services[ask.service].rollback_priority
        values = {
            "action": ask.action,
            "service": ask.service,
            "environment": ask.environment,
            "version": version,
            "previous": previous,
            "params": params,
            "dry_run": ask.dry_run,
            "stage": stage.name,
            "canary_weight": stage.weight,
            "parent_id": ask.parent_id,
            "backend": backend,
            "op_hash": op_hash(
                ask.action,
                ask.service,
                ask.environment,
                version,
                previous,
                backend,
                params,
                ask.dry_run,
            ),
            "state": state,
            "priority": priority,
            "requested_by": ask.requested_by,
            "reason": ask.reason[:256],
            "incident_id": ask.incident_id,
            "destinations": list(dict.fromkeys(ask.destinations)),
            "url": "",
            "message": "",
            "log_tail": "",
            "verified": False,
            "due_at": due,
            "created_at": now,
            "updated_at": now,
        }
        row = (await conn.execute(runs.insert().values(**values).returning(*runs.c))).one()
        await self.refresh(conn, row, now)
        return row

    def _stage(self, ask: Ask) -> Stage:
        if ask.stage is not None:
            return Stage(ask.stage)
        if ask.action != "deploy":
            return Stage()
        try:
            return deploy_stage(self.settings, ask.service, ask.environment, ask.params)
        except ValueError as exc:
            name, value = exc.args
            raise UserError("deploy.bad_canary_weight", name=name, value=value) from None

    async def _first_available(self, ask: Ask, backend: str, verified: list[str]) -> str:
        """The newest verified version whose artifact the backend does not say is gone."""
        for version in verified:
            if await self._exists(ask, backend, version) is not False:
                return version
        return ""

    async def _exists(self, ask: Ask, backend: str, version: str) -> bool | None:
        found = self.backends.get(backend)
        if found is None or not found.capabilities.artifact_check:
            return None
        _name, target = target_for(self.settings, ask.service, ask.environment)
        request = DeployRequest(
            run_id="",
            action=ask.action,
            service=ask.service,
            environment=ask.environment,
            version=version,
            previous="",
            target=target,
        )
        try:
            return await asyncio.wait_for(found.artifact_exists(request), self.artifact_wait)
        except (TimeoutError, DeliveryError) as exc:
            log.warning(
                "artifact check gave no answer",
                backend=backend,
                version=version,
                error=str(exc) or type(exc).__name__,
            )
            return None

    async def load(self, conn: AsyncConnection, run_id: int) -> Any:
        stmt = self.db.for_update(select(runs).where(runs.c.id == run_id))
        row = (await conn.execute(stmt)).first()
        if row is None:
            raise UserError("deploy.unknown_run", id=run_id)
        return row

    async def refresh(self, conn: AsyncConnection, row: Any, now: datetime) -> None:
        await self.outbox.card(conn, run_ref(row.id), row.destinations, priority=1, now=now)

    async def set(self, conn: AsyncConnection, row: Any, now: datetime, **values: Any) -> None:
        await conn.execute(update(runs).where(runs.c.id == row.id).values(**values, updated_at=now))
        await self.refresh(conn, row, now)

    # -- people's answers -------------------------------------------------------------------

    async def confirm(self, conn: AsyncConnection, row: Any, person: Person, now: datetime) -> str:
        if row.state != AWAITING_CONFIRMATION:
            return _already(row)
        if person.id != row.requested_by:
            raise UserError("deploy.only_requester", user=row.requested_by)
        needed = self.needed(row)
        state = AWAITING_APPROVAL if needed else QUEUED
        due = now + self.settings.deploy.approval_ttl if needed else now
        await self.set(conn, row, now, state=state, due_at=due)
        return "deploy.confirmed_approval" if needed else "deploy.confirmed"

    def needed(self, row: Any) -> int:
        """Approvals the run needs: the environment's policy, except for a canary's promotion,
        which carries the approvals of its canary."""
        if row.action == "deploy" and row.parent_id is not None:
            return 0
        policy = self.settings.deploy.approvals.get(row.environment, Approval())
        return policy.rollback if row.action == "rollback" else policy.deploy

    async def decide(
        self, conn: AsyncConnection, row: Any, person: Person, now: datetime, *, approve: bool
    ) -> str:
        """An approval or a denial, bound to the run's exact operation."""
        if row.state not in (AWAITING_APPROVAL, AWAITING_CONFIRMATION):
            return _already(row)
        if person.id == row.requested_by:
            raise UserError("deploy.self_approval")
        policy = self.settings.deploy.approvals.get(row.environment, Approval())
        if not person.may("approve", row.service, row.environment) or (
            policy.approvers
            and person.id not in policy.approvers
            and not set(person.roles) & set(policy.approvers)
        ):
            raise PermissionDenied(
                "deploy.not_approver", service=row.service, environment=row.environment
            )
        await conn.execute(
            self.db.insert(run_approvals)
            .values(
                run_id=row.id,
                user_id=person.id,
                op_hash=row.op_hash,
                decision="approve" if approve else "deny",
                at=now,
            )
            .on_conflict_do_nothing()
        )
        if not approve:
            await self.set(
                conn,
                row,
                now,
                state=DENIED,
                finished_at=now,
                due_at=None,
                message=f"denied by {person.id}",
            )
            return "deploy.denied"
        if row.state == AWAITING_APPROVAL and await self.approved(conn, row, now):
            await self.set(conn, row, now, state=QUEUED, due_at=now)
            return "deploy.approved_queued"
        await self.refresh(conn, row, now)
        return "deploy.approved_waiting"

    async def approved(self, conn: AsyncConnection, row: Any, now: datetime) -> bool:
        """Enough fresh approvals of this exact operation, one of them by the on-call if the
        policy says so."""
        ttl = self.settings.deploy.approval_ttl
        stmt = select(run_approvals.c.user_id).where(
            and_(
                run_approvals.c.run_id == row.id,
                run_approvals.c.op_hash == row.op_hash,
                run_approvals.c.decision == "approve",
                run_approvals.c.user_id != row.requested_by,
                run_approvals.c.at > now - ttl,
            )
        )
        people = set((await conn.execute(stmt)).scalars())
        if len(people) < self.needed(row):
            return False
        policy = self.settings.deploy.approvals.get(row.environment, Approval())
        if policy.on_call and policy.on_call in self.settings.schedules:
            overrides = (await active_overrides(conn, now, policy.on_call)).get(policy.on_call, [])
            current = on_call(self.settings.schedules[policy.on_call], now, overrides)
            return current is not None and current.user in people
        return True

    async def approvals(self, conn: AsyncConnection, run_id: int) -> list[Any]:
        stmt = select(run_approvals).where(run_approvals.c.run_id == run_id)
        return list((await conn.execute(stmt.order_by(run_approvals.c.at))).all())

    async def cancel(self, conn: AsyncConnection, row: Any, person: Person, now: datetime) -> str:
        if row.state in ENDED:
            return _already(row)
        if person.id != row.requested_by and not person.may("deploy", row.service, row.environment):
            raise UserError("deploy.not_yours", user=row.requested_by)
        if row.state in WAITING:
            await self.set(
                conn,
                row,
                now,
                state=CANCELLED,
                finished_at=now,
                due_at=None,
                message=f"cancelled by {person.id}",
            )
            return "deploy.cancelled"
        if row.state in ACTIVE:
            await self.set(
                conn, row, now, state=CANCELLING, due_at=now, message=f"cancel asked by {person.id}"
            )
        return "deploy.cancelling"


def _already(row: Any) -> str:
    return f"deploy.already.{row.state}"


__all__ = ["CANCELLED", "DENIED", "Ask", "Requests", "run_ref"]
