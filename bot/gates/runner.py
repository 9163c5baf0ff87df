"""Health gates at run time: after a deploy (or rollback) succeeds, measure its metrics until
there is a verdict, mark the run verified when it passes, and when it fails act by the service's
mode: `auto` rolls back at once, `semi` counts down (or waits for a press), `manual` only tells.

Loop guards: a rollback's own failed gate never triggers another rollback; a deploy triggers at
most one automatic rollback; and never automatically past a release marked as containing an
irreversible database migration (a run parameter ``migration=irreversible``) since the target.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.deploys import ledger
from bot.deploys.canary import is_canary, promotion_ask, rollback_ask
from bot.deploys.messages import said as ledger_text
from bot.deploys.messages import shown
from bot.deploys.requests import Requests
from bot.deploys.run import Run
from bot.errors import CommandError, DeliveryError, RetryableDelivery, UserError
from bot.flights import Flights
from bot.gates.alarms import Alarms, failing
from bot.gates.analysis import (
    Measurement,
    gate_verdict,
    judge,
    next_due,
    summary,
    watch_time,
)
from bot.gates.gate_run import GateRun
from bot.i18n import word
from bot.ports import MetricsSource
from bot.settings import Settings
from bot.settings.gates import Gate, GateMetric, expand
from bot.store.db import Database
from bot.store.tables import gate_measurements, gate_runs, runs

log = structlog.get_logger(__name__)

MEASURING, PASSED, FAILED, INCONCLUSIVE = "measuring", "passed", "failed", "inconclusive"
COUNTDOWN, HELD, ROLLED_BACK, PROMOTED = "countdown", "held", "rolled_back", "promoted"
BATCH = 20
LEASE = timedelta(seconds=60)
CALLS = 8
"""Gate runs measured at once, per replica."""
QUERY_LIMIT = timedelta(seconds=20)
"""A query that takes longer counts as an error measurement: well inside `LEASE`, so the
measurement is still this replica's to record (the source's own timeout is usually shorter)."""


class GateRunner:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        requests: Requests,
        metrics: MetricsSource | None,
    ) -> None:
        self.settings, self.db, self.clock = settings, db, clock
        self.requests, self.metrics = requests, metrics
        self.flights = Flights("metrics queries", CALLS)
        self.alarms = Alarms(requests.outbox)

    def gate_for(self, service: str, environment: str) -> Gate | None:
        spec = self.settings.services.get(service)
        if spec is None or self.metrics is None:
            return None
        return spec.gate.get(environment) or spec.gate.get("*")

    async def begin(self, conn: AsyncConnection, run: Run, now: datetime) -> timedelta | None:
        """Open the gate of a run that just succeeded; how long it watches the run at least
        (None when its service has no gate)."""
        gate = self.gate_for(run.service, run.environment)
        if gate is None or run.dry_run:
            return None
        await conn.execute(
            gate_runs.insert().values(
                run_id=run.id,
                service=run.service,
                environment=run.environment,
                version=run.version,
                after_rollback=run.action == "rollback",
                mode=gate.mode,
                state=MEASURING,
                started_at=now,
                due_at=now + gate.initial_delay,
                note="",
            )
        )
        return watch_time(gate, after_rollback=run.action == "rollback")

    async def rollback_ended(self, conn: AsyncConnection, rollback: Run, now: datetime) -> None:
        """A rollback ended: the card of each run whose gate led to it shows how."""
        stmt = select(gate_runs.c.run_id).where(gate_runs.c.rollback_run_id == rollback.id)
        for run_id in (await conn.execute(stmt)).scalars().all():
            await self._refresh(conn, run_id, now)

    async def run_once(self, *, wait: bool = True) -> int:
        """Measure what is due and end countdowns that ran out; returns how much it claimed.
        Claims are leased and committed first, and measurements fly beside the pass (see
        `bot.flights`): a slow metrics source holds neither the database (nor, on SQLite,
        every other writer) nor any other gate. `wait` waits for them."""
        room = self.flights.room
        if not room:
            return 0
        now = self.clock.now()
        lease = now + LEASE
        due = and_(
            gate_runs.c.state.in_([MEASURING, COUNTDOWN]),
            gate_runs.c.due_at <= now,
            gate_runs.c.id.not_in(self.flights.in_air),
        )
        claimed = await self.db.claim(
            gate_runs, select(gate_runs).where(due).limit(min(BATCH, room)), due_at=lease
        )
        rows = [GateRun.of(found) for found in claimed]
        for row in rows:
            if row.state == COUNTDOWN:  # a rollback may check artifacts with the backend
                self.flights.spawn(self._countdown_ended(row, now, lease), row.id)
            else:
                self.flights.spawn(self._measure(row, now, lease), row.id)
        if wait:
            await self.flights.drain()
        return len(rows)

    async def _countdown_ended(self, row: GateRun, now: datetime, lease: datetime) -> None:
        async with self.db.begin() as conn:
            if await self._ours(conn, row, lease):
                await self._roll_back(conn, row, now, why="the countdown ran out")

    async def _ours(self, conn: AsyncConnection, row: GateRun, lease: datetime) -> bool:
        """Still in the state it was claimed in, under this pass's lease (not held meanwhile,
        not taken over by another replica after the lease ran out)."""
        stmt = self.db.for_update(
            select(gate_runs.c.state, gate_runs.c.due_at).where(gate_runs.c.id == row.id)
        )
        found = (await conn.execute(stmt)).one()
        return bool(found.state == row.state and found.due_at == lease)

    async def _measure(self, row: GateRun, now: datetime, lease: datetime) -> None:
        gate = self.gate_for(row.service, row.environment)
        if gate is None:
            async with self.db.begin() as conn:
                if await self._ours(conn, row, lease):
                    await self._decide(conn, row, now, INCONCLUSIVE, ledger_text("gate.note.gone"))
            return
        async with self.db.connect() as conn:
            taken = await measurements(conn, row.id)
        fresh: list[Measurement] = []
        for metric in gate.metrics:
            due = next_due(
                gate, metric, taken[metric.name], row.started_at, after_rollback=row.after_rollback
            )
            if due is not None and due <= now:
                measured = await self._take(metric, row, now)
                fresh.append(measured)
                taken[metric.name].append(measured)
        async with self.db.begin() as conn:
            if not await self._ours(conn, row, lease):
                return
            if fresh:
                await conn.execute(
                    gate_measurements.insert(),
                    [
                        {
                            "gate_run_id": row.id,
                            "metric": m.metric,
                            "at": m.at,
                            "value": m.value,
                            "traffic": m.traffic,
                            "outcome": m.outcome,
                            "note": m.note,
                        }
                        for m in fresh
                    ],
                )
            await self._judge(conn, row, gate, taken, now)

    async def _judge(
        self,
        conn: AsyncConnection,
        row: GateRun,
        gate: Gate,
        taken: dict[str, list[Measurement]],
        now: datetime,
    ) -> None:
        verdict = gate_verdict(gate, taken, after_rollback=row.after_rollback)
        if verdict == "running":
            dues = [
                next_due(gate, m, taken[m.name], row.started_at, after_rollback=row.after_rollback)
                for m in gate.metrics
            ]
            soonest = min((d for d in dues if d is not None), default=now + timedelta(seconds=30))
            await conn.execute(
                update(gate_runs).where(gate_runs.c.id == row.id).values(due_at=soonest)
            )
            await self._refresh(conn, row.run_id, now)
            return
        note = "; ".join(
            f"{m.name}: {taken[m.name][-1].note}" for m in gate.metrics if taken[m.name]
        )
        if verdict == "passed":
            run = await self.requests.store.load(conn, row.run_id)
            if is_canary(run):
                await self._canary_passed(conn, row, run, gate, now, note)
                return
            await conn.execute(update(runs).where(runs.c.id == row.run_id).values(verified=True))
            await self._decide(conn, row, now, PASSED, note)
            await self.alarms.verified(conn, run, now)
        elif verdict == "inconclusive":
            await self._decide(conn, row, now, INCONCLUSIVE, note)
        else:
            await self._failed(conn, row, gate, now, note, failing(taken))

    async def _take(self, metric: GateMetric, row: GateRun, now: datetime) -> Measurement:
        try:
            value, why = await self._query(metric.query, row)
            traffic = None
            if metric.traffic is not None:
                traffic, _ = await self._query(metric.traffic.query, row)
        except DeliveryError as exc:
            outcome, note = judge(metric, None, None, error=str(exc)[:200])
            return Measurement(metric.name, now, None, outcome, note)
        outcome, note = judge(metric, value, traffic)
        if value is None and why:
            note = f"{note} ({why})"
        return Measurement(metric.name, now, value, outcome, note, traffic)

    async def _query(self, query: str, row: GateRun) -> tuple[float | None, str]:
        assert self.metrics is not None
        try:
            async with asyncio.timeout(QUERY_LIMIT.total_seconds()):
                result = await self.metrics.query(
                    expand(query, row.service, row.environment, row.version)
                )
        except TimeoutError as exc:
            limit = QUERY_LIMIT.total_seconds()
            raise RetryableDelivery(f"{self.metrics.name}: no answer in {limit:g} s") from exc
        return result.single()

    async def _failed(
        self, conn: AsyncConnection, row: GateRun, gate: Gate, now: datetime, note: str, what: str
    ) -> None:
        """The gate failed: act by its mode, and say so aloud in the run's chats."""
        run = await self.requests.store.load(conn, row.run_id)
        if row.after_rollback:
            await self._decide(
                conn,
                row,
                now,
                FAILED,
                ledger_text("gate.note.after_rollback", note=note),
            )
            await self.alarms.failed(conn, run, what, now, after_rollback=True)
            return
        guard = await self._guard(conn, row)
        mode = "auto" if "drill" in run.params else gate.mode  # a drill expects it
        if mode == "auto" and not guard:
            rollback = await self._roll_back(conn, row, now, why=note)
            await self.alarms.failed(conn, run, what, now, rollback=rollback)
        elif mode == "semi" and gate.semi_default == "rollback" and not guard:
            await conn.execute(
                update(gate_runs)
                .where(gate_runs.c.id == row.id)
                .values(state=COUNTDOWN, due_at=now + gate.countdown, note=note, decided_at=now)
            )
            await self._refresh(conn, row.run_id, now)
            await self.alarms.failed(conn, run, what, now, countdown=gate.countdown)
        else:
            await self._decide(conn, row, now, FAILED, f"{note}{guard}")
            await self.alarms.failed(conn, run, what, now)

    async def _guard(self, conn: AsyncConnection, row: GateRun) -> str:
        """Why an automatic rollback must not happen ("" when it may)."""
        return await auto_rollback_guard(
            conn, row.service, row.environment, self.settings.deploy.retention
        )

    async def _roll_back(
        self, conn: AsyncConnection, row: GateRun, now: datetime, *, why: str
    ) -> Run | None:
        """Roll the gate's run back; the rollback, or None when it may not be (a newer run
        came, or there is nothing to roll back to)."""
        run = await self.requests.store.load(conn, row.run_id)
        newer = await ledger.superseded(conn, run)
        if newer is not None:
            await self._decide(
                conn, row, now, FAILED, ledger_text("gate.note.superseded", note=why, id=newer.id)
            )
            return None
        ask = rollback_ask(
            self.settings, run, "tocsin", ledger_text("deploy.reason.gate", id=run.id, why=why)
        )
        try:
            rollback = await self.requests.ask(conn, ask, now)
        except CommandError as exc:
            await self._decide(
                conn,
                row,
                now,
                FAILED,
                ledger_text("gate.note.no_rollback", note=why, why=said(exc)),
            )
            return None
        await self._decide(conn, row, now, ROLLED_BACK, why, rollback_run_id=rollback.id)
        return rollback

    async def _canary_passed(
        self, conn: AsyncConnection, row: GateRun, run: Run, gate: Gate, now: datetime, note: str
    ) -> None:
        """A canary passed: promote it now, or wait for someone to press Promote."""
        if gate.canary is not None and gate.canary.promote == "manual":
            await self._decide(conn, row, now, PASSED, note)
            return
        try:
            await self._promote(conn, row, run, "tocsin", now, note)
        except CommandError as exc:
            await self._decide(
                conn,
                row,
                now,
                PASSED,
                ledger_text("gate.note.not_promoted", note=note, why=said(exc)),
            )

    async def promote(self, conn: AsyncConnection, run_id: int, who: str, now: datetime) -> Run:
        """The Promote button: a canary whose gate passed (or could not tell) goes to all
        traffic. Raises UserError when there is no such canary."""
        stmt = self.db.for_update(
            select(gate_runs).where(gate_runs.c.run_id == run_id).order_by(gate_runs.c.id.desc())
        )
        found = (await conn.execute(stmt.limit(1))).first()
        row = GateRun.of(found) if found is not None else None
        run = await self.requests.store.load(conn, run_id)
        if row is None or row.state not in (PASSED, INCONCLUSIVE) or not is_canary(run):
            raise UserError("gate.nothing_to_promote", id=run_id, why="")
        return await self._promote(conn, row, run, who, now, row.note)

    async def _promote(
        self, conn: AsyncConnection, row: GateRun, run: Run, who: str, now: datetime, note: str
    ) -> Run:
        newer = await ledger.superseded(conn, run)
        if newer is not None:
            raise UserError(
                "gate.nothing_to_promote", id=run.id, why=f": run #{newer.id} came since"
            )
        promotion = await self.requests.ask(conn, promotion_ask(self.settings, run, who), now)
        await self._decide(conn, row, now, PROMOTED, note, promote_run_id=promotion.id)
        return promotion

    async def hold(self, conn: AsyncConnection, run_id: int, who: str, now: datetime) -> bool:
        """Stop a countdown: the failed release stays until someone decides."""
        result = await conn.execute(
            update(gate_runs)
            .where(and_(gate_runs.c.run_id == run_id, gate_runs.c.state == COUNTDOWN))
            .values(
                state=HELD,
                due_at=None,
                note=gate_runs.c.note + ledger_text("gate.note.held", note="", user=who),
            )
        )
        await self._refresh(conn, run_id, now)
        return bool(result.rowcount)

    async def _decide(
        self, conn: AsyncConnection, row: GateRun, now: datetime, state: str, note: str, **also: Any
    ) -> None:
        """The gate's verdict (`also`: the run it led to), shown on the run's card."""
        await conn.execute(
            update(gate_runs)
            .where(gate_runs.c.id == row.id)
            .values(state=state, due_at=None, decided_at=now, note=note[:2000], **also)
        )
        await self._refresh(conn, row.run_id, now)

    async def _refresh(self, conn: AsyncConnection, run_id: int, now: datetime) -> None:
        run = await self.requests.store.load(conn, run_id)
        await self.requests.refresh(conn, run, now)

    async def rolled_back(
        self, conn: AsyncConnection, run_id: int, rollback_id: int, now: datetime
    ) -> None:
        """Someone rolled the run back by hand: its gate says so (a release that passed keeps
        its verdict; a canary that passed is taken away unpromoted)."""
        run = await self.requests.store.load(conn, run_id)
        kept = [PROMOTED] if is_canary(run) else [PASSED, PROMOTED]
        await conn.execute(
            update(gate_runs)
            .where(and_(gate_runs.c.run_id == run_id, gate_runs.c.state.not_in(kept)))
            .values(state=ROLLED_BACK, due_at=None, decided_at=now, rollback_run_id=rollback_id)
        )
        await self.requests.refresh(conn, run, now)

    async def view(
        self, conn: AsyncConnection, run_id: int, lang: str = "en"
    ) -> tuple[GateRun | None, list[str]]:
        """The run's latest gate and one line per metric, for its card in `lang`."""
        gate_run = await latest_gate(conn, run_id)
        if gate_run is None:
            return None, []
        gate = self.gate_for(gate_run.service, gate_run.environment)
        taken = await measurements(conn, gate_run.id)
        lines = summary(gate, taken, lang, after_rollback=gate_run.after_rollback) if gate else []
        if gate_run.note and gate_run.state != MEASURING:
            lines.append(shown(gate_run.note, lang))
        return gate_run, lines


def said(exc: CommandError) -> str:
    """An error as a gate's note (in English, like the measurements) says it."""
    return word(exc, "en").rstrip(".")


async def auto_rollback_guard(
    conn: AsyncConnection, service: str, environment: str, retention: int
) -> str:
    """Why rolling `service` back automatically must not happen ("" when it may): a release
    since the rollback target carries an irreversible database migration."""
    _current, target = await ledger.rollback_target(conn, service, environment, retention)
    if not target:
        return ""
    marked = await ledger.irreversible_since(conn, service, environment, target)
    if marked is None:
        return ""
    return ledger_text("gate.note.irreversible", note="", id=marked.id, version=marked.version)


async def measurements(conn: AsyncConnection, gate_run_id: int) -> dict[str, list[Measurement]]:
    stmt = (
        select(gate_measurements)
        .where(gate_measurements.c.gate_run_id == gate_run_id)
        .order_by(gate_measurements.c.id)
    )
    found: dict[str, list[Measurement]] = defaultdict(list)
    for m in await conn.execute(stmt):
        found[m.metric].append(Measurement(m.metric, m.at, m.value, m.outcome, m.note, m.traffic))
    return found


async def latest_gate(conn: AsyncConnection, run_id: int) -> GateRun | None:
    stmt = select(gate_runs).where(gate_runs.c.run_id == run_id).order_by(gate_runs.c.id.desc())
    found = (await conn.execute(stmt.limit(1))).first()
    return GateRun.of(found) if found is not None else None


__all__ = ["GateRunner", "latest_gate", "measurements"]
