"""Deleting in small batches that never wait for a lock.

Each call deletes at most `limit` rows in its own short transaction. On PostgreSQL the rows are
picked with ``FOR UPDATE SKIP LOCKED``: a row another replica is pruning, or that any writer
holds right now, is left for a later pass instead of being waited for, so several replicas can
prune at once and no pruning statement queues behind live traffic. SQLite has one writer at a
time and needs none of this.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, tuple_
from sqlalchemy.sql.schema import Table

from bot.store.db import Database


def _keys(table: Table) -> list[Any]:
    return list(table.primary_key.columns)


def pick(db: Database, table: Table, where: ColumnElement[bool], limit: int) -> Any:
    """The statement that chooses (and, on PostgreSQL, locks) one batch of `table`'s rows."""
    stmt = select(*_keys(table)).where(where).limit(limit)
    return stmt if db.is_sqlite else stmt.with_for_update(skip_locked=True)


async def delete_batch(db: Database, table: Table, where: ColumnElement[bool], limit: int) -> int:
    """Delete up to `limit` rows of `table` matching `where`; returns how many went."""
    keys = _keys(table)
    chosen = pick(db, table, where, limit)
    match = keys[0].in_(chosen) if len(keys) == 1 else tuple_(*keys).in_(chosen)
    async with db.begin() as conn:
        result = await conn.execute(delete(table).where(match))
    return max(int(result.rowcount or 0), 0)


async def delete_all(
    db: Database, table: Table, where: ColumnElement[bool], limit: int, batches: int | None
) -> tuple[int, bool]:
    """Batches until nothing matches or `batches` were run; returns (rows, more may remain)."""
    total, runs = 0, 0
    while batches is None or runs < batches:
        done = await delete_batch(db, table, where, limit)
        total, runs = total + done, runs + 1
        if done < limit:
            return total, False
    return total, True


async def count_rows(db: Database, table: Table, where: ColumnElement[bool]) -> int:
    """How many rows `delete_all` would take (a dry run)."""
    async with db.connect() as conn:
        stmt = select(func.count()).select_from(table).where(where)
        return int((await conn.execute(stmt)).scalar_one())
