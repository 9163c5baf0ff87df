"""The run engine: passes that lapse unanswered runs, start queued ones and poll running ones.

Starting claims a queued run (``FOR UPDATE SKIP LOCKED``), checks sticky locks, takes the run
lock of its service and environment (one run at a time), marks it ``starting`` with a lease and
commits; only then is the backend called, so two replicas never start one run. A replica that
dies after the call leaves a lease that runs out; the run is started again under the same run id,
which backends treat as the same operation. Polling works the same way, and the backend's own
reference is stored, so polling resumes after a restart. The transactions that start and end a
run also open and end the maintenance window it holds for its service (`bot.maintenance.deploys`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import structlog
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import reviews
from bot.clock import Clock
from bot.deploys import ledger, locks
from bot.deploys.messages import said
from bot.deploys.ops import (
    ACTIVE,
    AWAITING_APPROVAL,
    AWAITING_CONFIRMATION,
    CANCELLING,
    FAILED,
    QUEUED,
    RUNNING,
    STARTING,
    target_for,
)
from bot.deploys.requests import Requests
from bot.deploys.run import Change, ReleaseLock, Review, Run, Tell
from bot.deploys.run_store import from_row, run_ref
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.flights import Flights
from bot.maintenance import deploys as deploy_windows
from bot.ports import DeployBackend, DeployRequest, Phase, RunRef, RunStatus
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import runs

log = structlog.get_logger(__name__)
T = TypeVar("T")


class Gates(Protocol):
    async def begin(self, conn: AsyncConnection, run: Run, now: datetime) -> timedelta | None:
        """Open the run's health gate; how long it watches (None: the run has no gate)."""
        ...

    async def rollback_ended(self, conn: AsyncConnection, rollback: Run, now: datetime) -> None:
        """A rollback ended: the card of the run its gate rolled back shows it."""
        ...


LEASE = timedelta(seconds=60)
BATCH = 20
CALLS = 10
"""Backend calls (starts, polls, cancels) in the air at once, per replica."""
CALL_LIMIT = timedelta(seconds=30)
"""A backend call that takes longer is given up (and tried again): well inside `LEASE`, so
the run is still this replica's when the answer comes."""


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
        self.store = requests.store
        self.flights = Flights("deploy backends", CALLS)

    async def run_once(self, *, wait: bool = True) -> int:
        """One pass of each kind; returns how much it claimed. The backend calls fly beside
        the pass (see `bot.flights`); `wait` waits for them."""
        now = self.clock.now()
        done = await self._lapse(now)
        done += await self._poll(now)  # first, so a run that ended frees its slot at once
        if wait:
            await self.flights.drain()
        done += await self._start(self.clock.now())
        if wait:
            await self.flights.drain()
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
                await self.store.save(conn, from_row(row).lapse(now), now)
        return len(rows)

    # -- start ------------------------------------------------------------------------------

    async def _start(self, now: datetime) -> int:
        if not self.flights.room:
            return 0
        claimed = await self._claim_starts(now, self.flights.room)
        for run in claimed:
            self.flights.spawn(self._begin(run, now + LEASE), run.id)
        return len(claimed)

    async def _claim_starts(self, now: datetime, room: int) -> list[Run]:
        due = and_(
            or_(
                and_(runs.c.state == QUEUED, runs.c.due_at <= now),
                and_(runs.c.state == STARTING, runs.c.due_at <= now),  # a dead replica's claim
            ),
            runs.c.id.not_in(self.flights.in_air),
        )
        stmt = self.db.for_update(
            select(runs)
            .where(due)
            .order_by(runs.c.priority.desc(), runs.c.id)
            .limit(min(BATCH, room)),
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
            for run in map(from_row, (await conn.execute(stmt)).all()):
                if run.state != STARTING:
                    if room <= 0:
                        break
                    if not await self._may_start(conn, run, now):
                        continue
                    room -= 1
                claimed.append(await self.store.save(conn, run.claim(now, now + LEASE), now))
        return claimed

    async def _may_start(self, conn: AsyncConnection, run: Run, now: datetime) -> bool:
        """Locks and approvals allow it; else it waits (saying why) or lapses."""
        held = await locks.blocking(conn, run.service, run.environment, run.requested_by)
        if held is not None:
            return await self._wait(
                conn, run, now, said("deploy.msg.locked", user=held.holder, reason=held.reason)
            )
        if self.requests.needed(run) and not await self.requests.approved(conn, run, now):
            lapsed = run.approvals_lapsed(now, self.settings.deploy.approval_ttl)
            await self.store.save(conn, lapsed, now)
            return False
        scope = locks.run_scope(run.service, run.environment)
        lock = await locks.take(
            self.db, conn, scope, run.requested_by, now, sticky=False, run_id=run.id
        )
        if lock.run_id != run.id:
            holder = (
                await conn.execute(select(runs.c.state).where(runs.c.id == lock.run_id))
            ).scalar()
            if holder in ACTIVE:
                return await self._wait(
                    conn, run, now, said("deploy.msg.waiting_for", id=lock.run_id)
                )
            await locks.release(conn, scope, run_id=lock.run_id)  # left by a run that ended
            lock = await locks.take(
                self.db, conn, scope, run.requested_by, now, sticky=False, run_id=run.id
            )
        return bool(lock.run_id == run.id)

    async def _wait(self, conn: AsyncConnection, run: Run, now: datetime, why: str) -> bool:
        await self.store.save(conn, run.wait(now, why, self._poll_every()), now)
        return False

    async def _begin(self, run: Run, lease: datetime) -> None:
        backend = self.backends.get(run.backend)
        now = self.clock.now()
        if backend is None:
            return await self._end(
                run, lease, RunStatus(Phase.FAILED, f"no backend {run.backend!r}")
            )
        async with self.db.connect() as conn:
            approvals = await self.requests.approvals(conn, run.id)
        approved = tuple(a.user_id for a in approvals if a.decision == "approve")
        try:
            ref = await _bounded(backend.start(self.request(run, approved)), "start")
        except RetryableDelivery as exc:
            return await self._retry(run, lease, str(exc), exc.retry_after)
        except PermanentDelivery as exc:
            return await self._end(run, lease, RunStatus(Phase.FAILED, str(exc)))
        except Exception as exc:
            log.exception("deploy backend start failed", run=run.id, backend=run.backend)
            return await self._retry(run, lease, type(exc).__name__, None)
        async with self.db.begin() as conn:
            if await self._ours(conn, run, lease, STARTING):
                started = run.started(now, _ref_json(ref), ref.url, self._poll_every())
                await self.store.save(conn, started, now)
                await deploy_windows.follow(conn, self.db, self.settings, started.run, now)
                if run.action == "rollback":
                    await self._undone(conn, started.run, now)

    async def _retry(self, run: Run, lease: datetime, why: str, after: float | None) -> None:
        now = self.clock.now()
        async with self.db.begin() as conn:
            if await self._ours(conn, run, lease, STARTING, RUNNING, CANCELLING):
                wait = timedelta(seconds=after if after is not None else 15)
                await self.store.save(conn, run.retry(now, why, wait), now)

    # -- poll -------------------------------------------------------------------------------

    async def _poll(self, now: datetime) -> int:
        if not self.flights.room:
            return 0
        due = and_(
            runs.c.state.in_([RUNNING, CANCELLING]),
            runs.c.due_at <= now,
            runs.c.id.not_in(self.flights.in_air),
        )
        stmt = select(runs).where(due).order_by(runs.c.due_at).limit(min(BATCH, self.flights.room))
        rows = await self.db.claim(runs, stmt, due_at=now + LEASE)
        for run in map(from_row, rows):
            self.flights.spawn(self._check(run, now + LEASE), run.id)
        return len(rows)

    async def _check(self, run: Run, lease: datetime) -> None:
        backend = self.backends.get(run.backend)
        if backend is None or run.ref is None:
            return await self._end(run, lease, RunStatus(Phase.FAILED, "the run was lost"))
        request, ref = self.request(run), RunRef(**run.ref)
        now = self.clock.now()
        late = bool(run.started_at and now - run.started_at > self.settings.deploy.run_timeout)
        try:
            ref, status = await _bounded(self._ask(backend, run, ref, request, late), "poll")
        except RetryableDelivery as exc:
            return await self._retry(run, lease, str(exc), exc.retry_after)
        except PermanentDelivery as exc:
            status = RunStatus(Phase.FAILED, str(exc))
        except Exception as exc:
            log.exception("deploy backend poll failed", run=run.id, backend=run.backend)
            return await self._retry(run, lease, type(exc).__name__, None)
        if run.state == CANCELLING and not status.phase.done:
            status = RunStatus(
                Phase.RUNNING, said("deploy.msg.cancelling"), status.progress, status.url
            )
        if status.phase.done:
            return await self._end(run, lease, status, ref)
        async with self.db.begin() as conn:
            if await self._ours(conn, run, lease, RUNNING, CANCELLING):
                polled = run.polled(now, _status_values(status, ref), self._poll_every())
                await self.store.save(conn, polled, now)

    @staticmethod
    async def _ask(
        backend: DeployBackend, run: Run, ref: RunRef, request: DeployRequest, late: bool
    ) -> tuple[RunRef, RunStatus]:
        """The backend's calls for one poll: cancel first when asked to (or when the run ran
        past `deploy.run_timeout`), then the run's status."""
        if run.state == CANCELLING or late:
            await backend.cancel(ref, request)
            if late and run.state != CANCELLING:
                return ref, RunStatus(Phase.FAILED, "timed out")
        refresh = getattr(backend, "refresh", None)
        if refresh is not None:
            ref = await refresh(ref, request) or ref
        return ref, await backend.status(ref, request)

    async def _end(
        self, run: Run, lease: datetime, status: RunStatus, ref: RunRef | None = None
    ) -> None:
        now = self.clock.now()
        state = str(status.phase)
        async with self.db.begin() as conn:
            if not await self._ours(conn, run, lease, *ACTIVE):
                return
            gates = self.gates if run.opens_gate(state) else None
            watch = await gates.begin(conn, run, now) if gates is not None else None
            values = _status_values(status, ref)
            gated = watch is not None
            ended = run.end(now, state, values, status.message, gated=gated, watch=watch)
            await self.store.save(conn, ended, now)
            await deploy_windows.follow(conn, self.db, self.settings, ended.run, now)
            await self._follow(conn, ended, now)
            if run.action == "rollback":
                await self._undone(conn, ended.run, now)
                if self.gates is not None:
                    await self.gates.rollback_ended(conn, ended.run, now)
        if state == FAILED:
            log.warning("deploy run failed", run=run.id, message=status.message)

    async def _undone(self, conn: AsyncConnection, rollback: Run, now: datetime) -> None:
        """A rollback started or ended: the card of the deploy it takes away shows it, whoever
        asked for it (a gate's rollback refreshes its own runs' cards as well)."""
        stmt = (
            select(runs)
            .where(
                runs.c.service == rollback.service,
                runs.c.environment == rollback.environment,
                runs.c.action == "deploy",
                runs.c.id < rollback.id,
                runs.c.version == rollback.previous,
            )
            .order_by(runs.c.id.desc())
            .limit(1)
        )
        found = (await conn.execute(stmt)).first()
        if found is not None:
            deploy = from_row(found)
            undone = await ledger.undoing(conn, deploy)
            if undone is not None and undone.id == rollback.id:
                await self.requests.refresh(conn, deploy, now)

    async def _follow(self, conn: AsyncConnection, change: Change, now: datetime) -> None:
        """What an ended run leads to, in the order the run gave it."""
        run = change.run
        for event in change.events:
            if isinstance(event, ReleaseLock):
                scope = locks.run_scope(run.service, run.environment)
                await locks.release(conn, scope, run_id=run.id)
            elif isinstance(event, Review):
                await self._review(conn, run, now)
            elif isinstance(event, Tell):
                await self.requests.outbox.text(
                    conn,
                    run.destinations,
                    event.key,
                    dict(event.params),
                    now=now,
                    reply_to_card=run_ref(run.id),
                    priority=1,
                )

    async def _review(self, conn: AsyncConnection, run: Run, now: datetime) -> None:
        """A rollback ended: keep its review (a drill's report, for a drill) and post it as a
        card where the run is; each chat reads it in its own language."""
        await reviews.keep(conn, self.db, self.settings, run.id, now)
        await self.requests.outbox.card(
            conn, reviews.review_ref(run.id), run.destinations, priority=2, now=now
        )

    async def _ours(self, conn: AsyncConnection, run: Run, lease: datetime, *states: str) -> bool:
        """The run is still in one of `states` under this pass's lease (no other replica took
        it over after the lease ran out)."""
        stmt = self.db.for_update(select(runs.c.state, runs.c.due_at).where(runs.c.id == run.id))
        now_row = (await conn.execute(stmt)).one()
        if now_row.state == CANCELLING and CANCELLING in states:
            return True
        return bool(now_row.state in states and now_row.due_at == lease)

    def request(self, run: Run, approved_by: tuple[str, ...] = ()) -> DeployRequest:
        _backend, target = target_for(self.settings, run.service, run.environment)
        return DeployRequest(
            run_id=f"run-{run.id}",
            action=run.action,
            service=run.service,
            environment=run.environment,
            version=run.version,
            previous=run.previous,
            target=target,
            params=dict(run.params),
            dry_run=run.dry_run,
            requested_by=run.requested_by,
            approved_by=approved_by,
            stage=run.stage,
            canary_weight=run.canary_weight,
        )

    def _poll_every(self) -> timedelta:
        return self.settings.deploy.poll_interval


async def _bounded(call: Awaitable[T], what: str) -> T:
    """`call`, given up after `CALL_LIMIT` as a `RetryableDelivery`."""
    try:
        async with asyncio.timeout(CALL_LIMIT.total_seconds()):
            return await call
    except TimeoutError as exc:
        limit = CALL_LIMIT.total_seconds()
        raise RetryableDelivery(f"the backend's {what} took over {limit:g} s") from exc


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
