"""People's side of a run: asking for a deploy or rollback, confirming, approving, denying and
cancelling. Each runs inside the caller's transaction and queues an update of the run's card;
how the run moves is the `Run`'s to say, and this desk brings it the people, the policy and the
database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.authz import Person
from bot.deploys import ledger
from bot.deploys.ops import (
    AWAITING_APPROVAL,
    PARAM_KEY,
    ROLLBACK_FIRST,
    VERSION,
    Ask,
    Stage,
    deploy_stage,
    may_approve,
    needed,
    op_hash,
    opening,
    policy,
    target_for,
)
from bot.deploys.run import Change, Run, already
from bot.deploys.run_store import RunStore, run_ref
from bot.errors import DeliveryError, PermissionDenied, UserError
from bot.oncall import on_call
from bot.oncall.store import active_overrides
from bot.outbox.enqueue import Outbox
from bot.ports import DeployBackend, DeployRequest
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import run_approvals

log = structlog.get_logger(__name__)


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
        self.store = RunStore(db, outbox)

    # -- asking -----------------------------------------------------------------------------

    async def ask(self, conn: AsyncConnection, ask: Ask, now: datetime) -> Run:
        """Record the run (validated) and post its card."""
        backend = self._where(ask)
        previous = ask.previous
        if previous is None:
            previous = await ledger.current_version(conn, ask.service, ask.environment)
        stage = self._stage(ask)
        params = dict(ask.params)
        if stage.param:
            params[stage.param] = str(stage.weight)
        version = ask.version
        if ask.action == "rollback" and ask.parent_id is None:
            version = await self._rollback_target(conn, ask, backend, previous)
        if not VERSION.match(version):
            raise UserError("deploy.bad_version", version=version)
        followed = ask.parent_id is not None  # a canary's release was just there
        if ask.version and not followed and await self._exists(ask, backend, version) is False:
            raise UserError("deploy.gone", version=version, backend=backend)
        run = self._draft(ask, backend, version, previous, params, stage, now)
        return await self.store.insert(conn, run, now)

    def _where(self, ask: Ask) -> str:
        """The backend the ask deploys with, once its service, environment and parameter names
        are known to be good."""
        services = self.settings.services
        if ask.service not in services:
            known = ", ".join(services) or "-"
            raise UserError("deploy.unknown_service", service=ask.service, known=known)
        environments = self.settings.service_environments(ask.service)
        if ask.environment not in environments:
            raise UserError(
                "deploy.unknown_environment",
                service=ask.service,
                environment=ask.environment,
                known=", ".join(environments),
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
        return backend

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

    async def _rollback_target(
        self, conn: AsyncConnection, ask: Ask, backend: str, previous: str
    ) -> str:
        """The version a rollback returns to: the one asked for, which must have been verified,
        or else the newest verified one whose artifact is still there."""
        retention = self.settings.deploy.retention
        verified = [
            v
            for v in await ledger.verified_versions(
                conn, ask.service, ask.environment, retention + 1
            )
            if v != previous
        ]
        version = ask.version
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
        return version

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

    def _draft(
        self,
        ask: Ask,
        backend: str,
        version: str,
        previous: str,
        params: dict[str, str],
        stage: Stage,
        now: datetime,
    ) -> Run:
        """The run to record, in the state the approval policy opens it in (its id is the
        database's to give)."""
        count = needed(self.settings, ask.action, ask.environment, ask.parent_id)
        state, due = opening(self.settings.deploy, confirm=ask.confirm, needed=count, now=now)
        priority = 0
        if ask.action == "rollback":
            priority = ROLLBACK_FIRST + self.settings.services[ask.service].rollback_priority
        operation = (ask.action, ask.service, ask.environment, version, previous, backend)
        return Run(
            id=0,
            action=ask.action,
            service=ask.service,
            environment=ask.environment,
            version=version,
            previous=previous,
            params=params,
            dry_run=ask.dry_run,
            backend=backend,
            op_hash=op_hash(*operation, params, ask.dry_run),
            state=state,
            priority=priority,
            requested_by=ask.requested_by,
            reason=ask.reason[:256],
            incident_id=ask.incident_id,
            destinations=tuple(dict.fromkeys(ask.destinations)),
            ref=None,
            url="",
            message="",
            log_tail="",
            progress=None,
            verified=False,
            stage=stage.name,
            canary_weight=stage.weight,
            parent_id=ask.parent_id,
            due_at=due,
            created_at=now,
            started_at=None,
            finished_at=None,
            updated_at=now,
        )

    # -- the run as it stands ---------------------------------------------------------------

    async def load(self, conn: AsyncConnection, run_id: int) -> Run:
        """The run, locked for the press that is about to move it."""
        return await self.store.load_for_update(conn, run_id)

    async def refresh(self, conn: AsyncConnection, run: Run, now: datetime) -> None:
        await self.store.refresh(conn, run, now)

    def needed(self, run: Run) -> int:
        """Approvals the run needs (see `bot.deploys.ops.needed`)."""
        return needed(self.settings, run.action, run.environment, run.parent_id)

    async def approvals(self, conn: AsyncConnection, run_id: int) -> list[Any]:
        stmt = select(run_approvals).where(run_approvals.c.run_id == run_id)
        return list((await conn.execute(stmt.order_by(run_approvals.c.at))).all())

    # -- people's answers -------------------------------------------------------------------

    async def confirm(self, conn: AsyncConnection, run: Run, person: Person, now: datetime) -> str:
        ttl = self.settings.deploy.approval_ttl
        return await self._answer(
            conn,
            now,
            lambda: run.confirm(person.id, now, needed=self.needed(run), approval_ttl=ttl),
        )

    async def decide(
        self, conn: AsyncConnection, run: Run, person: Person, now: datetime, *, approve: bool
    ) -> str:
        """An approval or a denial, bound to the run's exact operation."""
        try:
            run.may_decide(person.id)
        except UserError as exc:
            return _late(exc)
        rule = policy(self.settings, run.environment)
        if not may_approve(rule, person, run.service, run.environment):
            raise PermissionDenied(
                "deploy.not_approver", service=run.service, environment=run.environment
            )
        await conn.execute(
            self.db.insert(run_approvals)
            .values(
                run_id=run.id,
                user_id=person.id,
                op_hash=run.op_hash,
                decision="approve" if approve else "deny",
                at=now,
            )
            .on_conflict_do_nothing()
        )
        if not approve:
            return await self._answer(conn, now, lambda: run.deny(person.id, now))
        enough = run.state == AWAITING_APPROVAL and await self.approved(conn, run, now)
        return await self._answer(conn, now, lambda: run.approve(person.id, now, enough=enough))

    async def approved(self, conn: AsyncConnection, run: Run, now: datetime) -> bool:
        """Enough fresh approvals of this exact operation, one of them by the on-call if the
        policy says so."""
        ttl = self.settings.deploy.approval_ttl
        stmt = select(run_approvals.c.user_id).where(
            and_(
                run_approvals.c.run_id == run.id,
                run_approvals.c.op_hash == run.op_hash,
                run_approvals.c.decision == "approve",
                run_approvals.c.user_id != run.requested_by,
                run_approvals.c.at > now - ttl,
            )
        )
        people = set((await conn.execute(stmt)).scalars())
        if len(people) < self.needed(run):
            return False
        rule = policy(self.settings, run.environment)
        if rule.on_call and rule.on_call in self.settings.schedules:
            overrides = (await active_overrides(conn, now, rule.on_call)).get(rule.on_call, [])
            current = on_call(self.settings.schedules[rule.on_call], now, overrides)
            return current is not None and current.user in people
        return True

    async def cancel(self, conn: AsyncConnection, run: Run, person: Person, now: datetime) -> str:
        may = person.may("deploy", run.service, run.environment)
        return await self._answer(conn, now, lambda: run.cancel(person.id, now, may_deploy=may))

    async def _answer(
        self, conn: AsyncConnection, now: datetime, move: Callable[[], Change]
    ) -> str:
        """Make a person's move and save it; a late press is answered, not raised."""
        try:
            change = move()
        except UserError as exc:
            return _late(exc)
        await self.store.save(conn, change, now)
        return change.answer


def _late(exc: UserError) -> str:
    """The answer to a press the run's state refuses; any other refusal goes on up."""
    key = already(exc)
    if key is None:
        raise exc
    return key


__all__ = ["Ask", "Requests", "run_ref"]
