"""Schema migrations: upgrade to head, and tell whether a database is current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.errors import DatabaseNotReady
from bot.store.db import Database

_HERE = Path(__file__).parent / "migrations"


def alembic_config(url: str = "") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def current_revision(db: Database) -> str | None:
    def read(sync_conn: Any) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()

    async with db.connect() as conn:
        return await conn.run_sync(read)


async def upgrade(db: Database) -> None:
    def run(sync_conn: Any) -> None:
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")

    async with db.begin() as conn:
        await conn.run_sync(run)


async def ensure_current(db: Database, *, auto_migrate: bool) -> None:
    """Migrate when allowed; otherwise refuse to run on a database the code does not match."""
    current = await current_revision(db)
    if current == head_revision():
        return
    if auto_migrate:
        await upgrade(db)
        return
    state = "has no Tocsin schema yet" if current is None else f"is at revision {current}"
    raise DatabaseNotReady(
        f"the database {state}, but this Tocsin needs {head_revision()}. "
        "Run 'tocsin db upgrade --config FILE' (or set database.auto_migrate: true)."
    )
