"""The audit log's hash chain: intact logs verify, any edit, deletion or truncation shows."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, update

from bot.audit import AuditEntry, append, verify
from bot.store.db import Database
from bot.store.tables import audit_log

AT = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


async def write(db: Database, n: int) -> None:
    for i in range(n):
        async with db.begin() as conn:
            await append(
                db,
                conn,
                AuditEntry("alice", "slack", "button:ack", f"incident:{i}", "allowed", {"i": i}),
                AT,
            )


async def test_intact_chain_verifies(db: Database) -> None:
    assert (await verify(db)).ok
    await write(db, 5)
    result = await verify(db)
    assert result.ok and result.rows == 5


async def test_edited_row_is_detected(db: Database) -> None:
    await write(db, 5)
    async with db.begin() as conn:
        await conn.execute(update(audit_log).where(audit_log.c.id == 3).values(outcome="denied"))
    result = await verify(db)
    assert not result.ok and "row 3: content was changed" in result.problem


async def test_deleted_row_is_detected(db: Database) -> None:
    await write(db, 5)
    async with db.begin() as conn:
        await conn.execute(delete(audit_log).where(audit_log.c.id == 2))
    result = await verify(db)
    assert not result.ok and "row 2 is missing" in result.problem


async def test_truncated_tail_is_detected(db: Database) -> None:
    await write(db, 5)
    async with db.begin() as conn:
        await conn.execute(delete(audit_log).where(audit_log.c.id == 5))
    result = await verify(db)
    assert not result.ok and "removed from the end" in result.problem


async def test_rewritten_chain_without_the_key_still_breaks_at_the_head(db: Database) -> None:
    await write(db, 3)
    async with db.begin() as conn:
        await conn.execute(update(audit_log).where(audit_log.c.id == 3).values(hash="f" * 64))
    assert not (await verify(db)).ok
