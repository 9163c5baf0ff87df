"""Questions to the release ledger (the `runs` table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.deploys.ops import CANCELLED, DENIED, EXPIRED, FAILED, SUCCEEDED
from bot.deploys.outcome import run_key
from bot.deploys.run import Run
from bot.deploys.run_store import from_row
from bot.gates.gate_run import GateRun
from bot.store.tables import gate_runs, rca_drafts, runs


def _target(service: str, environment: str) -> Any:
    return and_(runs.c.service == service, runs.c.environment == environment)


def _last_real(service: str, environment: str) -> Any:
    """The last real run that reached the backend and ended."""
    return (
        select(runs)
        .where(
            _target(service, environment),
            runs.c.state.in_([SUCCEEDED, FAILED, CANCELLED]),
            runs.c.started_at.is_not(None),
            ~runs.c.dry_run,
        )
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(1)
    )


async def undoing(conn: AsyncConnection, run: Run) -> Run | None:
    """The rollback that took `run`'s release away, by anyone (its gate, a person, an alert):
    the first run after it in the same place that reached the backend, when that is a
    rollback from its version. None for anything but a deploy that went out."""
    if run.action != "deploy" or run.state != SUCCEEDED or run.dry_run:
        return None
    stmt = (
        select(runs)
        .where(
            _target(run.service, run.environment),
            runs.c.id > run.id,
            runs.c.started_at.is_not(None),
            ~runs.c.dry_run,
        )
        .order_by(runs.c.id)
        .limit(1)
    )
    found = (await conn.execute(stmt)).first()
    if found is None or found.action != "rollback" or found.previous != run.version:
        return None
    return from_row(found)


async def current_version(conn: AsyncConnection, service: str, environment: str) -> str:
    """The version the last real run that reached the backend was rolling out ("" when none
    did). A failed or cancelled run counts: it may have left part of the service on it."""
    found = (await conn.execute(_last_real(service, environment))).first()
    return str(found.version) if found is not None else ""


@dataclass(frozen=True, slots=True)
class Standing:
    """What runs in one place as far as the ledger can tell: one `version`, or, after `run`
    ended part way, a mix (`share`: the percentage on `run.version`, the rest on
    `run.previous`) or nothing known (`share` None)."""

    version: str
    run: Run | None = None
    share: int | None = None


async def standing(conn: AsyncConnection, service: str, environment: str) -> Standing:
    """What runs in `service`'s `environment`. A run that failed or was cancelled after it
    changed part of the service leaves it mixed when its backend said how far it got, and
    unknown when not; it never reads as the old version, nor as the new one."""
    found = (await conn.execute(_last_real(service, environment))).first()
    if found is None:
        return Standing("")
    run = from_row(found)
    if run.state == SUCCEEDED or (run.progress is not None and run.progress >= 100):
        return Standing(run.version)
    if run.progress == 0:
        return Standing(run.previous)
    return Standing("", run, run.progress)


async def verified_versions(
    conn: AsyncConnection, service: str, environment: str, limit: int
) -> list[str]:
    """Versions that passed their checks, newest first, each once."""
    stmt = (
        select(runs.c.version)
        .where(_target(service, environment), runs.c.verified)
        .order_by(runs.c.finished_at.desc(), runs.c.id.desc())
        .limit(limit * 4)
    )
    found = list(dict.fromkeys(str(v) for v in (await conn.execute(stmt)).scalars()))
    return found[:limit]


async def rollback_target(
    conn: AsyncConnection, service: str, environment: str, retention: int
) -> tuple[str, str]:
    """(current version, the last verified version other than it); "" where there is none."""
    current = await current_version(conn, service, environment)
    for version in await verified_versions(conn, service, environment, retention + 1):
        if version != current:
            return current, version
    return current, ""


async def history(
    conn: AsyncConnection, service: str, environment: str | None, limit: int
) -> list[Any]:
    where = runs.c.service == service
    if environment:
        where = and_(where, runs.c.environment == environment)
    stmt = select(runs).where(where).order_by(runs.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).all())


async def recent(
    conn: AsyncConnection, service: str, environment: str, since: datetime
) -> list[Any]:
    """Runs of the service in the environment created since `since`, newest first."""
    stmt = (
        select(runs)
        .where(_target(service, environment), runs.c.created_at >= since, ~runs.c.dry_run)
        .order_by(runs.c.id.desc())
        .limit(5)
    )
    return list((await conn.execute(stmt)).all())


async def irreversible_since(
    conn: AsyncConnection, service: str, environment: str, version: str
) -> Any | None:
    """A release since `version` last ran that is marked as carrying an irreversible database
    migration (``migration=irreversible``): no automatic rollback may cross it."""
    anchor = (
        select(func.max(runs.c.id))
        .where(_target(service, environment), runs.c.version == version, runs.c.verified)
        .scalar_subquery()
    )
    stmt = (
        select(runs)
        .where(
            _target(service, environment),
            runs.c.action == "deploy",
            runs.c.started_at.is_not(None),
            runs.c.id > func.coalesce(anchor, 0),
        )
        .order_by(runs.c.id)
    )
    for row in await conn.execute(stmt):
        if (row.params or {}).get("migration") == "irreversible":
            return row
    return None


async def superseded(conn: AsyncConnection, run: Run) -> Run | None:
    """A later run of the same service and environment that makes acting on `run` stale: one
    that reached the backend, or a rollback still on its way. A gate's promotion or automatic
    rollback of `run` would otherwise undo it."""
    stmt = (
        select(runs)
        .where(
            _target(run.service, run.environment),
            runs.c.id > run.id,
            ~runs.c.dry_run,
            or_(
                runs.c.started_at.is_not(None),
                and_(
                    runs.c.action == "rollback",
                    runs.c.state.not_in([DENIED, EXPIRED, CANCELLED]),
                ),
            ),
        )
        .order_by(runs.c.id)
        .limit(1)
    )
    found = (await conn.execute(stmt)).first()
    return from_row(found) if found is not None else None


async def outcomes(conn: AsyncConnection, rows: Sequence[Any]) -> dict[int, str]:
    """The honest status key of each run in `rows` (`bot.deploys.outcome`), by run id: from the
    run, its latest health gate and the rollback that gate (or anyone after it) led to."""
    ids = [row.id for row in rows]
    gates: dict[int, GateRun] = {}
    if ids:
        stmt = select(gate_runs).where(gate_runs.c.run_id.in_(ids)).order_by(gate_runs.c.id)
        for found in await conn.execute(stmt):
            gates[found.run_id] = GateRun.of(found)
    rollback_ids = [g.rollback_run_id for g in gates.values() if g.rollback_run_id is not None]
    rollbacks: dict[int, Run] = {}
    if rollback_ids:
        for found in await conn.execute(select(runs).where(runs.c.id.in_(rollback_ids))):
            rollbacks[found.id] = from_row(found)
    keys = {}
    for row in rows:
        run, gate = from_row(row), gates.get(row.id)
        rollback = rollbacks.get(gate.rollback_run_id or 0) if gate is not None else None
        if rollback is None:
            rollback = await undoing(conn, run)
        keys[row.id] = run_key(run, gate, rollback)
    return keys


async def reviewed(conn: AsyncConnection, run_id: int) -> int | None:
    """The rollback run whose review covers run `run_id`: the run itself (a rollback), or the
    rollback its health gate led to; None when no review was written."""
    undone_by = select(gate_runs.c.rollback_run_id).where(
        gate_runs.c.run_id == run_id, gate_runs.c.rollback_run_id.is_not(None)
    )
    stmt = (
        select(rca_drafts.c.run_id)
        .where(or_(rca_drafts.c.run_id == run_id, rca_drafts.c.run_id.in_(undone_by)))
        .order_by(rca_drafts.c.created_at.desc(), rca_drafts.c.run_id.desc())
        .limit(1)
    )
    found = (await conn.execute(stmt)).scalar()
    return int(found) if found is not None else None
