"""The run engine: passes that lapse unanswered runs, start queued ones and poll running ones.

Starting claims a queued run (``FOR UPDATE SKIP LOCKED``), checks sticky locks, takes the run
lock of its service and environment (one run at a time), marks it ``starting`` with a lease and
commits; only then is the backend called, so two replicas never start one run. A replica that
dies after the call leaves a lease that runs out; the run is started again under the same run id,
which backends treat as the same operation. Polling works the same way, and the backend's own
reference is stored, so polling resumes after a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.deploy_port import DeployBackend, DeployRequest, Phase, RunRef, RunStatus
from bot.deploys import locks
from bot.deploys.ops import (
    ACTIVE,
    AWAITING_APPROVAL,
    AWAITING_CONFIRMATION,
    CANARY,
    CANCELLING,
    EXPIRED,
    FAILED,
    QUEUED,
    RUNNING,
    STARTING,
    SUCCEEDED,
    target_for,
)
from bot.deploys.requests import Requests
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.gates import rca
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import rca_drafts, runs

log = structlog.get_logger(__name__)


class Gates(Protocol):
    async def begin(self, conn: AsyncConnection, run: Any, now: datetime) -> bool: ...


LEASE = timedelta(seconds=60)
BATCH = 20


class Runner:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        requests: Requests,
        backends: Mapping[str, DeployBackend],
        gates: Gates | None = None,
    ) -> None:
        self.settings, self.db, self.clock = settings, db, clock
        self.requests, self.backends, self.gates = requests, backends, gates

    async def run_once(self) -> int:
        """One pass of each kind; returns how much it did."""
        now = self.clock.now()
        done = await self._lapse(now)
        done += await self._poll(now)  # first, so a run that ended frees its slot at once
        done += await self._start(self.clock.now())
        return done

    # -- lapse ------------------------------------------------------------------------------

    async def _lapse(self, now: datetime) -> int:
        stmt = self.db.for_update(
            select(runs)
            .where(
                and_(
                    runs.c.state.in_([AWAITING_CONFIRMATION, AWAITING_APPROVAL]),
                    runs.c.due_at <= now,
                )
            )
            .limit(BATCH),
            skip_locked=True,
        )
        async with self.db.begin() as conn:
            rows = (await conn.execute(stmt)).all()
            for row in rows:
                what = "confirmation" if row.state == AWAITING_CONFIRMATION else "approval"
                await self.requests.set(
                    conn,
                    row,
                    now,
                    state=EXPIRED,
                    finished_at=now,
                    due_at=None,
                    message=f"no {what} in time",
                )
        return len(rows)

    # -- start ------------------------------------------------------------------------------

    async def _start(self, now: datetime) -> int:
        claimed = await self._claim_starts(now)
        for row in claimed:
            await asyncio.shield(self._begin(row, now + LEASE))
        return len(claimed)

    async def _claim_starts(self, now: datetime) -> list[Any]:
        due = or_(
            and_(runs.c.state == QUEUED, runs.c.due_at <= now),
            and_(runs.c.state == STARTING, runs.c.due_at <= now),  # a dead replica's claim
        )
        stmt = self.db.for_update(
            select(runs).where(due).order_by(runs.c.priority.desc(), runs.c.id).limit(BATCH),
            skip_locked=True,
        )
        async with self.db.begin() as conn:
            active = (
                await conn.execute(
                    select(func.count()).where(runs.c.state.in_([STARTING, RUNNING, CANCELLING]))
                )
            ).scalar_one()
            room = self.settings.deploy.max_parallel - int(active)
            claimed = []
            for row in (await conn.execute(stmt)).all():
                if row.state != STARTING:
                    if room <= 0:
                        break
                    if not await self._may_start(conn, row, now):
                        continue
                    room -= 1
                claimed.append(row)
                await conn.execute(
                    update(runs)
                    .where(runs.c.id == row.id)
                    .values(state=STARTING, due_at=now + LEASE, updated_at=now)
                )
        return claimed

    async def _may_start(self, conn: AsyncConnection, row: Any, now: datetime) -> bool:
        """Locks and approvals allow it; else it waits (saying why) or lapses."""
        held = await locks.blocking(conn, row.service, row.environment, row.requested_by)
        if held is not None:
            return await self._wait(conn, row, now, f"locked by {held.holder}: {held.reason}")
        if self.requests.needed(row) and not await self.requests.approved(conn, row, now):
            await self.requests.set(
                conn,
                row,
                now,
                state=AWAITING_APPROVAL,
                due_at=now + self.settings.deploy.approval_ttl,
                message="the approvals lapsed; approve again",
            )
            return False
        scope = locks.run_scope(row.service, row.environment)
        lock = await locks.take(
            self.db, conn, scope, row.requested_by, now, sticky=False, run_id=row.id
        )
        if lock.run_id != row.id:
            holder = (
                await conn.execute(select(runs.c.state).where(runs.c.id == lock.run_id))
            ).scalar()
            if holder in ACTIVE:
                return await self._wait(conn, row, now, f"waiting for run #{lock.run_id}")
            await locks.release(conn, scope, run_id=lock.run_id)  # left by a run that ended
            lock = await locks.take(
                self.db, conn, scope, row.requested_by, now, sticky=False, run_id=row.id
            )
        return bool(lock.run_id == row.id)

    async def _wait(self, conn: AsyncConnection, row: Any, now: datetime, why: str) -> bool:
        if row.message != why:
            await self.requests.set(conn, row, now, message=why)
        await conn.execute(
            update(runs).where(runs.c.id == row.id).values(due_at=now + self._poll_every())
        )
        return False

    async def _begin(self, row: Any, lease: datetime) -> None:
        backend = self.backends.get(row.backend)
        now = self.clock.now()
        if backend is None:
            return await self._end(
                row, lease, RunStatus(Phase.FAILED, f"no backend {row.backend!r}")
            )
        async with self.db.connect() as conn:
            approvals = await self.requests.approvals(conn, row.id)
        approved = tuple(a.user_id for a in approvals if a.decision == "approve")
        try:
            ref = await backend.start(self.request(row, approved))
        except RetryableDelivery as exc:
            return await self._retry(row, lease, str(exc), exc.retry_after)
        except PermanentDelivery as exc:
            return await self._end(row, lease, RunStatus(Phase.FAILED, str(exc)))
        except Exception as exc:
            log.exception("deploy backend start failed", run=row.id, backend=row.backend)
            return await self._retry(row, lease, type(exc).__name__, None)
        async with self.db.begin() as conn:
            if await self._ours(conn, row, lease, STARTING):
                await self.requests.set(
                    conn,
                    row,
                    now,
                    state=RUNNING,
                    started_at=now,
                    ref=_ref_json(ref),
                    url=ref.url,
                    message="started",
                    due_at=now + self._poll_every(),
                )

    async def _retry(self, row: Any, lease: datetime, why: str, after: float | None) -> None:
        now = self.clock.now()
        async with self.db.begin() as conn:
            if await self._ours(conn, row, lease, STARTING, RUNNING, CANCELLING):
                wait = timedelta(seconds=after if after is not None else 15)
                state = QUEUED if row.state in (QUEUED, STARTING) else row.state
                await self.requests.set(
                    conn,
                    row,
                    now,
                    state=state,
                    due_at=now + wait,
                    message=f"backend: {why[:200]}; trying again",
                )

    # -- poll -------------------------------------------------------------------------------

    async def _poll(self, now: datetime) -> int:
        due = and_(runs.c.state.in_([RUNNING, CANCELLING]), runs.c.due_at <= now)
        stmt = select(runs).where(due).order_by(runs.c.due_at).limit(BATCH)
        rows = await self.db.claim(runs, stmt, due_at=now + LEASE)
        await asyncio.gather(*(asyncio.shield(self._check(r, now + LEASE)) for r in rows))
        return len(rows)

    async def _check(self, row: Any, lease: datetime) -> None:
        backend = self.backends.get(row.backend)
        if backend is None or row.ref is None:
            return await self._end(row, lease, RunStatus(Phase.FAILED, "the run was lost"))
        request, ref = self.request(row), RunRef(**row.ref)
        now = self.clock.now()
        try:
            if row.state == CANCELLING:
                await backend.cancel(ref, request)
            elif row.started_at and now - row.started_at > self.settings.deploy.run_timeout:
                await backend.cancel(ref, request)
                return await self._end(row, lease, RunStatus(Phase.FAILED, "timed out"))
            refresh = getattr(backend, "refresh", None)
            if refresh is not None:
                ref = await refresh(ref, request) or ref
            status = await backend.status(ref, request)
        except RetryableDelivery as exc:
            return await self._retry(row, lease, str(exc), exc.retry_after)
        except PermanentDelivery as exc:
            status = RunStatus(Phase.FAILED, str(exc))
        except Exception as exc:
            log.exception("deploy backend poll failed", run=row.id, backend=row.backend)
            return await self._retry(row, lease, type(exc).__name__, None)
        if row.state == CANCELLING and not status.phase.done:
            status = RunStatus(Phase.RUNNING, "cancelling…", status.progress, status.url)
        if status.phase.done:
            return await self._end(row, lease, status, ref)
        async with self.db.begin() as conn:
            if await self._ours(conn, row, lease, RUNNING, CANCELLING):
                values = _status_values(status, ref)
                changed = any(getattr(row, k) != v for k, v in values.items())
                values["due_at"] = now + self._poll_every()
                if changed:
                    await self.requests.set(conn, row, now, **values)
                else:
                    await conn.execute(update(runs).where(runs.c.id == row.id).values(**values))

    async def _end(
        self, row: Any, lease: datetime, status: RunStatus, ref: RunRef | None = None
    ) -> None:
        now = self.clock.now()
        async with self.db.begin() as conn:
            if not await self._ours(conn, row, lease, *ACTIVE):
                return
            values = _status_values(status, ref)
            state = str(status.phase)
            verified = state == SUCCEEDED and not row.dry_run and row.stage != CANARY
            gates = self.gates if state == SUCCEEDED and not row.dry_run else None
            if gates is not None and await gates.begin(conn, row, now):
                verified = False  # its health gate decides
            await self.requests.set(
                conn,
                row,
                now,
                **values,
                state=state,
                finished_at=now,
                due_at=None,
                verified=verified,
            )
            await locks.release(conn, locks.run_scope(row.service, row.environment), run_id=row.id)
            if row.action == "rollback" and not row.dry_run and state in (SUCCEEDED, FAILED):
                await self._review(conn, row, now)
            await self.requests.outbox.text(
                conn,
                row.destinations,
                f"deploy.ended.{state}",
                {
                    "id": row.id,
                    "action": row.action,
                    "service": row.service,
                    "environment": row.environment,
                    "version": row.version,
                    "message": status.message[:300],
                },
                now=now,
                reply_to_card=f"run:{row.id}",
                priority=1,
            )
        if state == FAILED:
            log.warning("deploy run failed", run=row.id, message=status.message)

    async def _review(self, conn: AsyncConnection, row: Any, now: datetime) -> None:
        """A rollback ended: write the review draft, keep it, and post it where the run is."""
        markdown = await rca.draft(conn, self.settings, row.id)
        await conn.execute(
            self.db.insert(rca_drafts)
            .values(run_id=row.id, incident_id=row.incident_id, markdown=markdown, created_at=now)
            .on_conflict_do_nothing()
        )
        await self.requests.outbox.text(
            conn,
            row.destinations,
            "raw",
            {"text": markdown},
            now=now,
            reply_to_card=f"run:{row.id}",
            priority=2,
        )

    async def _ours(self, conn: AsyncConnection, row: Any, lease: datetime, *states: str) -> bool:
        """The run is still in one of `states` under this pass's lease (no other replica took
        it over after the lease ran out)."""
        stmt = self.db.for_update(select(runs.c.state, runs.c.due_at).where(runs.c.id == row.id))
        now_row = (await conn.execute(stmt)).one()
        if now_row.state == CANCELLING and CANCELLING in states:
            return True
        return bool(now_row.state in states and now_row.due_at == lease)

    def request(self, row: Any, approved_by: tuple[str, ...] = ()) -> DeployRequest:
        _backend, target = target_for(self.settings, row.service, row.environment)
        return DeployRequest(
            run_id=f"run-{row.id}",
            action=row.action,
            service=row.service,
            environment=row.environment,
            version=row.version,
            previous=row.previous,
            target=target,
            params=dict(row.params),
            dry_run=row.dry_run,
            requested_by=row.requested_by,
            approved_by=approved_by,
            stage=row.stage,
            canary_weight=row.canary_weight,
        )

    def _poll_every(self) -> timedelta:
        return self.settings.deploy.poll_interval


def _ref_json(ref: RunRef) -> dict[str, Any]:
    return {"id": ref.id, "url": ref.url, "data": ref.data}


def _status_values(status: RunStatus, ref: RunRef | None) -> dict[str, Any]:
    values: dict[str, Any] = {"message": status.message[:1000], "log_tail": status.log_tail[-2000:]}
    if status.progress is not None:
        values["progress"] = round(status.progress * 100)
    if status.url:
        values["url"] = status.url
    if ref is not None:
        values["ref"] = _ref_json(ref)
    return values
