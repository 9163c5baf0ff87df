"""Hash chain: each row's hash covers its content and the previous row's hash.

Appends serialise on the single `audit_head` row (locked FOR UPDATE on PostgreSQL; SQLite
serialises writers), so the chain stays linear with several replicas. `verify` recomputes it,
from the start or, once the oldest entries were pruned (`bot.audit.prune`), from the anchor
that holds the last pruned entry's hash; the pruning itself is an entry of the chain.
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
from bot.store.tables import audit_anchor, audit_head, audit_log

GENESIS = "0" * 64
PRUNE_ACTION = "audit.prune"
"""The entry each pruning writes; its detail names the anchor it left."""


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
    pruned_to: int = 0
    """Entries up to this id were pruned on purpose (0: the chain starts at the beginning)."""


async def verify(db: Database) -> VerifyResult:
    """Walk the chain from its start (or its anchor); report the first row that does not fit."""
    async with db.connect() as conn:
        anchor = (await conn.execute(select(audit_anchor).where(audit_anchor.c.id == 1))).first()
        start = int(anchor.last_id) if anchor is not None else 0
        prev = start_hash = anchor.last_hash if anchor is not None else GENESIS
        expected_id, count, recorded = start + 1, 0, None
        result = await conn.stream(
            select(audit_log).where(audit_log.c.id > start).order_by(audit_log.c.id)
        )
        async for row in result:
            if row.id != expected_id:
                return VerifyResult(
                    False, count, f"row {expected_id} is missing (found {row.id})", start
                )
            if row.prev_hash != prev:
                return VerifyResult(
                    False, count, f"row {row.id}: previous hash does not match", start
                )
            entry = AuditEntry(
                row.actor, row.platform, row.action, row.target, row.outcome, row.detail
            )
            if _digest(prev, row.id, row.at, entry) != row.hash:
                return VerifyResult(False, count, f"row {row.id}: content was changed", start)
            if row.action == PRUNE_ACTION:
                recorded = row.detail
            prev, expected_id, count = row.hash, expected_id + 1, count + 1
        head = (await conn.execute(select(audit_head))).first()
    if head is not None and (head.last_id != expected_id - 1 or head.last_hash != prev):
        return VerifyResult(False, count, "rows were removed from the end of the log", start)
    if start > 0 and (
        not isinstance(recorded, dict)
        or recorded.get("last_id") != start
        or recorded.get("last_hash") != start_hash
    ):
        return VerifyResult(
            False, count, f"the anchor (pruned up to row {start}) is not the one recorded", start
        )
    return VerifyResult(True, count, pruned_to=start)
