"""Reading a rollback's facts from the store: the run, the release it undid, their health gates,
the incident and the audit entries about them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.gates.drills import DRILL_PARAM
from bot.reviews.facts import Acted, Facts, GateFact, IncidentFact, Measured, RunFact
from bot.settings import Settings
from bot.store.tables import audit_log, gate_measurements, gate_runs, incidents, runs


async def gather(conn: AsyncConnection, settings: Settings, rollback_id: int) -> Facts:
    """The facts of rollback run `rollback_id` (which must exist)."""
    names = {u.id: u.name or u.id for u in settings.users}
    rollback = (await conn.execute(select(runs).where(runs.c.id == rollback_id))).one()
    bad = await _undone(conn, rollback)
    related = [r.id for r in (bad, rollback) if r is not None]
    service = settings.services.get(rollback.service)
    drill = str((bad.params or {}).get(DRILL_PARAM, "")) if bad is not None else ""
    return Facts(
        service=rollback.service,
        environment=rollback.environment,
        owner=names.get(service.owner, service.owner) if service and service.owner else "",
        rollback=_run(rollback, names),
        bad=_run(bad, names) if bad is not None else None,
        reason=rollback.reason,
        drill=int(drill) if drill.isdigit() else None,
        gates=tuple(
            GateFact(g.run_id, g.state, g.decided_at)
            for g in await conn.execute(
                select(gate_runs).where(gate_runs.c.run_id.in_(related)).order_by(gate_runs.c.id)
            )
        ),
        measurements=await _measurements(conn, related),
        incident=await _incident(conn, rollback.incident_id),
        acted=await _acted(conn, related, rollback.incident_id, names),
    )


async def _undone(conn: AsyncConnection, rollback: Any) -> Any:
    """The run whose release the rollback undid: its canary, or the last deploy of it."""
    undone = (
        runs.c.id == rollback.parent_id
        if rollback.parent_id is not None
        else (runs.c.action == "deploy") & (runs.c.version == rollback.previous)
    )
    stmt = (
        select(runs)
        .where(
            runs.c.service == rollback.service,
            runs.c.environment == rollback.environment,
            undone,
            runs.c.id < rollback.id,
        )
        .order_by(runs.c.id.desc())
        .limit(1)
    )
    return (await conn.execute(stmt)).first()


def _run(row: Any, names: dict[str, str]) -> RunFact:
    return RunFact(
        id=row.id,
        action=row.action,
        version=row.version,
        previous=row.previous,
        state=row.state,
        requested_by=names.get(row.requested_by, row.requested_by),
        backend=row.backend,
        stage=row.stage,
        canary_weight=row.canary_weight,
        url=row.url,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


async def _measurements(conn: AsyncConnection, run_ids: list[int]) -> tuple[Measured, ...]:
    stmt = (
        select(gate_runs.c.run_id, gate_measurements)
        .join(gate_runs, gate_runs.c.id == gate_measurements.c.gate_run_id)
        .where(gate_runs.c.run_id.in_(run_ids))
        .order_by(gate_measurements.c.at, gate_measurements.c.id)
    )
    return tuple(
        Measured(m.run_id, m.metric, m.at, m.value, m.outcome, m.note)
        for m in await conn.execute(stmt)
    )


async def _incident(conn: AsyncConnection, incident_id: int | None) -> IncidentFact | None:
    if incident_id is None:
        return None
    stmt = select(incidents).where(incidents.c.id == incident_id)
    row = (await conn.execute(stmt)).first()
    return IncidentFact(row.id, row.tier, row.title, row.created_at) if row else None


async def _acted(
    conn: AsyncConnection, run_ids: list[int], incident_id: int | None, names: dict[str, str]
) -> tuple[Acted, ...]:
    targets = [f"run:{i}" for i in run_ids]
    if incident_id is not None:
        targets.append(f"incident:{incident_id}")
    stmt = (
        select(audit_log)
        .where(
            or_(
                *(audit_log.c.target.like(f"{t} %") for t in targets),
                *(audit_log.c.target == t for t in targets),
            )
        )
        .order_by(audit_log.c.id)
    )
    return tuple(
        Acted(
            e.at,
            names.get(e.actor, e.actor),
            e.action,
            e.target,
            e.outcome,
            str((e.detail or {}).get("error", "")),
        )
        for e in await conn.execute(stmt)
    )
