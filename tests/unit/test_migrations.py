"""Schema migrations: `db upgrade`, refusing an unmigrated database, automatic migration."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.audit import AuditEntry, append
from bot.cli import main
from bot.errors import DatabaseNotReady
from bot.store.db import Database
from bot.store.migrate import current_revision, ensure_current, head_revision
from tests.support import base_config, postgres_database


async def test_refuses_an_unmigrated_database_then_migrates(db_url: str) -> None:
    db = Database(db_url)
    try:
        with pytest.raises(DatabaseNotReady, match="tocsin db upgrade"):
            await ensure_current(db, auto_migrate=False)
        assert await current_revision(db) is None
        await ensure_current(db, auto_migrate=True)
        assert await current_revision(db) == head_revision()
        await ensure_current(db, auto_migrate=False)  # current: nothing to say
    finally:
        await db.dispose()


def write_config(tmp_path: Path, url: str) -> Path:
    raw = base_config()
    raw["database"] = {"url": url}
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_db_upgrade_and_run_refusal_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    assert main(["run", "--config", str(config)]) == 3
    assert "Run 'tocsin db upgrade" in capsys.readouterr().err
    assert main(["db", "current", "--config", str(config)]) == 0
    assert "schema revision: none" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert f"schema revision: {head_revision()} (current)" in capsys.readouterr().out


def test_audit_verify_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert main(["audit", "verify", "--config", str(config)]) == 0
    assert "intact: 0 rows" in capsys.readouterr().out

    async def add() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
        async with db.begin() as conn:
            for n in range(3):
                await append(
                    db,
                    conn,
                    AuditEntry("alice", "slack", "button:ack", str(n), "allowed"),
                    datetime.now(UTC),
                )
        await db.dispose()

    asyncio.run(add())
    assert main(["audit", "verify", "--config", str(config)]) == 0
    with sqlite3.connect(tmp_path / "t.db") as raw:
        raw.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    assert main(["audit", "verify", "--config", str(config)]) == 1
    assert "TAMPERED" in capsys.readouterr().err


@pytest.mark.postgres
async def test_postgres_migrates_from_empty() -> None:
    async with postgres_database() as url:
        db = Database(url)
        try:
            await ensure_current(db, auto_migrate=True)
            assert await current_revision(db) == head_revision()
        finally:
            await db.dispose()
