"""Locks: sticky ones people take (`/lock orders:prod`, `/lock prod`, `/lock all`) and the one a
run holds on its service and environment while it runs, so two runs never overlap."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import Database
from bot.store.tables import locks

ALL = "all"


def scopes(service: str, environment: str) -> list[str]:
    """The sticky scopes that stop a run of `service` in `environment`."""
    return [f"{service}:{environment}", f"env:{environment}", ALL]


async def blocking(
    conn: AsyncConnection, service: str, environment: str, requester: str
) -> Any | None:
    """A sticky lock someone other than `requester` holds over this target, if any."""
    stmt = select(locks).where(
        and_(locks.c.scope.in_(scopes(service, environment)), locks.c.holder != requester)
    )
    return (await conn.execute(stmt)).first()


async def take(
    db: Database,
    conn: AsyncConnection,
    scope: str,
    holder: str,
    now: datetime,
    *,
    sticky: bool,
    reason: str = "",
    run_id: int | None = None,
) -> Any:
    """Take `scope`; returns the lock row as it stands (someone else's if they hold it)."""
    await conn.execute(
        db.insert(locks)
        .values(
            scope=scope,
            holder=holder,
            reason=reason[:256],
            sticky=sticky,
            run_id=run_id,
            created_at=now,
        )
        .on_conflict_do_nothing()
    )
    return (await conn.execute(select(locks).where(locks.c.scope == scope))).one()


async def release(conn: AsyncConnection, scope: str, *, run_id: int | None = None) -> int:
    where = locks.c.scope == scope
    if run_id is not None:
        where = and_(where, locks.c.run_id == run_id)
    result = await conn.execute(delete(locks).where(where))
    return int(result.rowcount)


async def sticky(conn: AsyncConnection) -> list[Any]:
    stmt = select(locks).where(locks.c.sticky).order_by(locks.c.created_at)
    return list((await conn.execute(stmt)).all())


def run_scope(service: str, environment: str) -> str:
    return f"run:{service}:{environment}"
