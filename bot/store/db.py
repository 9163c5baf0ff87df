"""The database handle: one async engine, dialect-aware helpers, SQLite tuned for WAL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.schema import Table

from bot.store.outage import Outage


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE (see `_sqlite_begin`).
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock up front: writers then queue on busy_timeout instead of failing
    # with "database is locked" when a read transaction tries to upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


CONNECT_TIMEOUT = 5.0
"""Seconds to wait for PostgreSQL to accept a connection."""
_JSON: dict[str, Any] = {"json_serializer": _dumps, "json_deserializer": orjson.loads}


class Database:
    """Owns the engine. `begin()` yields a connection inside one transaction. `outage` follows
    whether the database answers (see `bot.store.outage`)."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._writer = asyncio.Lock()
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(url, **_JSON)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        else:
            # No pre-ping: it costs a round trip per transaction. A connection that died with
            # the server is discarded on its first error, and callers retry or fail cleanly.
            # A server that accepts no connection (hung, or a black-holed address) is an
            # outage after CONNECT_TIMEOUT, not after asyncpg's default of a minute.
            self.engine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_recycle=1800,
                pool_timeout=CONNECT_TIMEOUT * 2,
                connect_args={"timeout": CONNECT_TIMEOUT},
                **_JSON,
            )
        self.outage = Outage()
        self.outage.watch(self.engine.sync_engine)

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        if self.is_sqlite:
            # SQLite has one writer at a time. Queue this process's transactions here, in
            # order, rather than in SQLite's busy handler, which sleeps up to 100 ms per try.
            async with self._writer, self.engine.begin() as conn:
                yield conn
            return
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose statements each commit at once (PostgreSQL). SQLite, which
        serialises writers anyway, gets one ordinary transaction."""
        if self.is_sqlite:
            async with self.begin() as conn:
                yield conn
            return
        async with self.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        if self.is_sqlite:  # every SQLite transaction here takes the write lock (see begin)
            async with self._writer, self.engine.connect() as conn:
                yield conn
            return
        async with self.engine.connect() as conn:
            yield conn

    def insert(self, table: Table) -> Any:
        """A dialect-specific INSERT that supports ``on_conflict_do_nothing/update``."""
        return (sqlite.insert if self.is_sqlite else postgresql.insert)(table)

    async def claim(self, table: Table, stmt: Any, **lease: Any) -> list[Any]:
        """Take the rows `stmt` selects from `table` for this replica: lock them, skipping those
        another replica holds, set `lease` on them (a lease's end, a status) and commit, so the
        slow work that follows runs outside any transaction. Returns the rows as they were."""
        async with self.begin() as conn:
            rows = list((await conn.execute(self.for_update(stmt, skip_locked=True))).all())
            if rows:
                ids = [row.id for row in rows]
                await conn.execute(table.update().where(table.c.id.in_(ids)).values(**lease))
        return rows

    def for_update(self, stmt: Any, *, skip_locked: bool = False) -> Any:
        """Row locks on PostgreSQL; SQLite serialises writers itself."""
        if self.is_sqlite:
            return stmt
        return stmt.with_for_update(skip_locked=skip_locked)

    async def dispose(self) -> None:
        await self.engine.dispose()
