"""Questions to the release ledger (the `runs` table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.deploys.ops import CANCELLED, DENIED, EXPIRED, FAILED, SUCCEEDED
from bot.deploys.run import Run
from bot.deploys.run_store import from_row
from bot.store.tables import runs


def _target(service: str, environment: str) -> Any:
    return and_(runs.c.service == service, runs.c.environment == environment)


async def current_version(conn: AsyncConnection, service: str, environment: str) -> str:
    """The version the last real run that reached the backend was rolling out ("" when none
    did). A failed or cancelled run counts: it may have left part of the service on it."""
    stmt = (
        select(runs.c.version)
        .where(
            _target(service, environment),
            runs.c.state.in_([SUCCEEDED, FAILED, CANCELLED]),
            runs.c.started_at.is_not(None),
            ~runs.c.dry_run,
        )
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(1)
    )
    return str((await conn.execute(stmt)).scalar() or "")


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
