"""Rollback drills: deploy a release known to be bad in a test environment, expect the health
gate to catch it and the rollback to undo it, and report how long each took. A drill that does
not end that way tells the service's owner in their direct chats, and opens an incident that
pages them until a drill passes (`bot.gates.drill_pages`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.deploys.messages import said
from bot.deploys.requests import Ask, Requests
from bot.errors import UserError
from bot.gates.drill_pages import DrillPages, Outcome
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import drills, gate_runs, runs

RUNNING, PASSED, FAILED = "running", "passed", "failed"
SCHEDULED = "scheduled"
"""A drill's first slot, kept until it comes (its `started_at` is when it will start)."""
DRILL_PARAM = "drill"

log = structlog.get_logger(__name__)


class Drills:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        requests: Requests,
        direct: Callable[[str], list[str]],
        pages: DrillPages,
    ) -> None:
        self.settings, self.db, self.requests, self.direct = settings, db, requests, direct
        self.pages = pages

    async def start(
        self,
        conn: AsyncConnection,
        service: str,
        environment: str | None,
        requested_by: str,
        destinations: Sequence[str],
        now: datetime,
    ) -> Any:
        drill = self.settings.deploy.drills.get(service)
        if drill is None:
            raise UserError("drill.not_configured", service=service)
        env = environment or drill.environment
        if env != drill.environment:
            raise UserError(
                "drill.wrong_environment", service=service, environment=drill.environment
            )
        row = (
            await conn.execute(
                drills.insert()
                .values(
                    service=service,
                    environment=env,
                    version=drill.version,
                    state=RUNNING,
                    requested_by=requested_by,
                    destinations=list(destinations),
                    started_at=now,
                    note="",
                )
                .returning(*drills.c)
            )
        ).one()
        ask = Ask(
            "deploy",
            service,
            env,
            drill.version,
            {DRILL_PARAM: str(row.id)},
            False,
            requested_by,
            destinations,
            confirm=False,
            reason=said("deploy.reason.drill", id=row.id),
        )
        run = await self.requests.ask(conn, ask, now)
        await conn.execute(update(drills).where(drills.c.id == row.id).values(run_id=run.id))
        return row

    async def run_once(self, now: datetime) -> int:
        """Follow running drills to their end, and start the scheduled ones that are due; then
        bring each service's drill incident in line with its latest outcome."""
        done = 0
        async with self.db.begin() as conn:
            stmt = self.db.for_update(
                select(drills).where(drills.c.state == RUNNING).limit(20), skip_locked=True
            )
            for drill in (await conn.execute(stmt)).all():
                done += await self._follow(conn, drill, now)
            done += await self._scheduled(conn, now)
            outcomes = await self._outcomes(conn)
        await self.pages.reconcile(outcomes)
        return done

    async def _outcomes(self, conn: AsyncConnection) -> list[Outcome]:
        """The latest finished drill of each configured one."""
        found = []
        for service, spec in self.settings.deploy.drills.items():
            where = and_(
                drills.c.service == service,
                drills.c.environment == spec.environment,
                drills.c.state.in_((PASSED, FAILED)),
            )
            latest = (drills.c.finished_at.desc(), drills.c.id.desc())
            stmt = select(drills).where(where).order_by(*latest).limit(1)
            row = (await conn.execute(stmt)).first()
            if row is not None:
                found.append(
                    Outcome(
                        drill_id=row.id,
                        service=service,
                        environment=row.environment,
                        failed=row.state == FAILED,
                        finished_at=row.finished_at,
                        note=row.note,
                        tier=spec.page_tier,
                    )
                )
        return found

    async def _scheduled(self, conn: AsyncConnection, now: datetime) -> int:
        """Start the scheduled drills that are due. A drill never starts the first time Tocsin
        sees it: its first slot is one period away, kept as a ``scheduled`` row and announced
        to its owner, so turning drills on never pages anyone at once."""
        started = 0
        for service, drill in self.settings.deploy.drills.items():
            if drill.every is None:
                continue
            last = (
                await conn.execute(
                    select(drills)
                    .where(
                        and_(drills.c.service == service, drills.c.environment == drill.environment)
                    )
                    .order_by(drills.c.started_at.desc(), drills.c.id.desc())
                    .limit(1)
                )
            ).first()
            if last is None:
                await self._schedule(conn, service, drill.environment, now + drill.every, now)
            elif last.state == SCHEDULED and last.started_at <= now:
                await conn.execute(delete(drills).where(drills.c.id == last.id))
                await self.start(conn, service, None, "tocsin", self._owner_chats(service), now)
                started += 1
            elif last.state != SCHEDULED and last.started_at + drill.every <= now:
                await self.start(conn, service, None, "tocsin", self._owner_chats(service), now)
                started += 1
        return started

    async def _schedule(
        self, conn: AsyncConnection, service: str, environment: str, at: datetime, now: datetime
    ) -> None:
        """Keep the first slot of `service`'s drill and tell its owner (and the log) when it is."""
        drill = self.settings.deploy.drills[service]
        chats = self._owner_chats(service)
        await conn.execute(
            drills.insert().values(
                service=service,
                environment=environment,
                version=drill.version,
                state=SCHEDULED,
                requested_by="tocsin",
                destinations=chats,
                started_at=at,
                note="",
            )
        )
        log.info("first rollback drill scheduled", service=service, environment=environment, at=at)
        every = drill.every or timedelta(0)
        days, hours = divmod(round(every.total_seconds() / 3600), 24)
        params = {
            "service": service,
            "environment": environment,
            "at": at.strftime("%Y-%m-%d %H:%M"),
            "every": days if not hours else days * 24 + hours,
        }
        key = "drill.scheduled.days" if not hours else "drill.scheduled.hours"
        await self.requests.outbox.text(conn, chats, key, params, now=now, priority=2)

    async def next_slot(self, conn: AsyncConnection, service: str) -> datetime | None:
        """When `service`'s next scheduled drill starts (None: none is scheduled)."""
        drill = self.settings.deploy.drills.get(service)
        if drill is None or drill.every is None:
            return None
        stmt = (
            select(drills.c.state, drills.c.started_at)
            .where(and_(drills.c.service == service, drills.c.environment == drill.environment))
            .order_by(drills.c.started_at.desc(), drills.c.id.desc())
            .limit(1)
        )
        last = (await conn.execute(stmt)).first()
        if last is None:
            return None
        at: datetime = last.started_at
        return at if last.state == SCHEDULED else at + drill.every

    async def _follow(self, conn: AsyncConnection, drill: Any, now: datetime) -> int:
        run = (await conn.execute(select(runs).where(runs.c.id == drill.run_id))).first()
        gate = (
            await conn.execute(select(gate_runs).where(gate_runs.c.run_id == drill.run_id).limit(1))
        ).first()
        limit = self.settings.deploy.drills.get(drill.service)
        if run is None or run.state in ("failed", "cancelled", "denied", "expired"):
            return await self._end(conn, drill, now, FAILED, "the drill release did not go out")
        if gate is not None and gate.state in ("passed", "promoted"):
            return await self._end(
                conn, drill, now, FAILED, "the health gate did not catch the bad release"
            )
        if gate is not None and gate.rollback_run_id:
            rollback = (
                await conn.execute(select(runs).where(runs.c.id == gate.rollback_run_id))
            ).one()
            if rollback.state == "succeeded" and run.finished_at and gate.decided_at:
                detect = (gate.decided_at - run.finished_at).total_seconds()
                restore = (rollback.finished_at - gate.decided_at).total_seconds()
                return await self._end(
                    conn,
                    drill,
                    now,
                    PASSED,
                    f"rolled back to {rollback.version}",
                    detect=detect,
                    restore=restore,
                )
            if rollback.state in ("failed", "cancelled", "denied", "expired"):
                return await self._end(
                    conn, drill, now, FAILED, f"the rollback (run #{rollback.id}) {rollback.state}"
                )
        if limit is not None and drill.started_at + limit.timeout <= now:
            return await self._end(conn, drill, now, FAILED, "it did not end in time")
        return 0

    async def _end(
        self,
        conn: AsyncConnection,
        drill: Any,
        now: datetime,
        state: str,
        note: str,
        *,
        detect: float | None = None,
        restore: float | None = None,
    ) -> int:
        await conn.execute(
            update(drills)
            .where(drills.c.id == drill.id)
            .values(
                state=state,
                finished_at=now,
                note=note,
                detect_seconds=detect,
                restore_seconds=restore,
            )
        )
        params = {
            "id": drill.id,
            "service": drill.service,
            "environment": drill.environment,
            "note": note,
            "detect": _seconds(detect),
            "restore": _seconds(restore),
        }
        key = "drill.passed" if state == PASSED else "drill.failed"
        chats = list(drill.destinations)
        if state == FAILED:
            chats += [c for c in self._owner_chats(drill.service) if c not in chats]
        await self.requests.outbox.text(conn, chats, key, params, now=now, priority=1)
        return 1

    def _owner_chats(self, service: str) -> list[str]:
        owner = self.settings.services[service].owner if service in self.settings.services else ""
        return self.direct(owner) if owner else []


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"
