"""Hash chain: each row's hash covers its content and the previous row's hash.

Appends serialise on the single `audit_head` row (locked FOR UPDATE on PostgreSQL; SQLite
serialises writers), so the chain stays linear with several replicas. `verify` recomputes it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import Database
from bot.store.tables import audit_head, audit_log

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    actor: str
    platform: str
    action: str
    target: str
    outcome: str  # "allowed" | "denied" | "failed" | "system"
    detail: dict[str, Any] = field(default_factory=dict)


def _digest(prev: str, row_id: int, at: datetime, entry: AuditEntry) -> str:
    body = orjson.dumps(
        [
            row_id,
            at.astimezone(UTC).isoformat(),
            entry.actor,
            entry.platform,
            entry.action,
            entry.target,
            entry.outcome,
            entry.detail,
        ],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(prev.encode() + body).hexdigest()


async def append(db: Database, conn: AsyncConnection, entry: AuditEntry, at: datetime) -> int:
    """Append inside the caller's transaction; returns the new row id."""
    head = (
        await conn.execute(db.for_update(select(audit_head).where(audit_head.c.id == 1)))
    ).first()
    if head is None:
        await conn.execute(
            db.insert(audit_head)
            .values(id=1, last_id=0, last_hash=GENESIS)
            .on_conflict_do_nothing()
        )
        head = (
            await conn.execute(db.for_update(select(audit_head).where(audit_head.c.id == 1)))
        ).one()
    row_id = int(head.last_id) + 1
    digest = _digest(head.last_hash, row_id, at, entry)
    await conn.execute(
        audit_log.insert().values(
            id=row_id,
            at=at,
            actor=entry.actor,
            platform=entry.platform,
            action=entry.action,
            target=entry.target,
            outcome=entry.outcome,
            detail=entry.detail,
            prev_hash=head.last_hash,
            hash=digest,
        )
    )
    await conn.execute(
        update(audit_head).where(audit_head.c.id == 1).values(last_id=row_id, last_hash=digest)
    )
    return row_id


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    rows: int
    problem: str = ""


async def verify(db: Database) -> VerifyResult:
    """Walk the chain from the start; report the first row that does not fit."""
    prev, expected_id, count = GENESIS, 1, 0
    async with db.connect() as conn:
        result = await conn.stream(select(audit_log).order_by(audit_log.c.id))
        async for row in result:
            if row.id != expected_id:
                return VerifyResult(False, count, f"row {expected_id} is missing (found {row.id})")
            if row.prev_hash != prev:
                return VerifyResult(False, count, f"row {row.id}: previous hash does not match")
            entry = AuditEntry(
                row.actor, row.platform, row.action, row.target, row.outcome, row.detail
            )
            if _digest(prev, row.id, row.at, entry) != row.hash:
                return VerifyResult(False, count, f"row {row.id}: content was changed")
            prev, expected_id, count = row.hash, expected_id + 1, count + 1
        head = (await conn.execute(select(audit_head))).first()
    if head is not None and (head.last_id != count or head.last_hash != prev):
        return VerifyResult(False, count, "rows were removed from the end of the log")
    return VerifyResult(True, count)
