"""Keyed hash chain: each row's link is an HMAC over its content and the previous row's hash.

Links are HMAC-SHA256 under a key derived from `audit.key` (else `tocsin.secret_key`), and each
row names its key by id (`bot.audit.keys`), so keys rotate: new rows use the current key and
`verify` accepts rows under any configured key. Someone with database write access but without
the key can no longer rewrite an entry and recompute the chain: the first rewritten row fails.

Upgrade from the plain SHA-256 chain (migration 0013 adds `key_id`, NULL on the old rows): the
old rows stay as they are and verify as the legacy chain, from the start (or the pruning anchor)
up to the first keyed row; that row's HMAC covers the last legacy hash, so editing an old row
breaks the chain at the edit as before, and rewriting the whole legacy prefix breaks the first
keyed row. An unkeyed row after a keyed one is refused. A chain that is still entirely legacy
(nothing keyed written yet) verifies as before and says so; `require_keyed` refuses it, since
anyone with write access could have recomputed it (including a downgrade of every keyed row).

Appends serialise on the single `audit_head` row (locked FOR UPDATE on PostgreSQL; SQLite
serialises writers), so the chain stays linear with several replicas. `verify` walks it from the
start or, once the oldest entries were pruned (`bot.audit.prune`), from the anchor that holds
the last pruned entry's hash; the pruning itself is an entry of the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.audit.chain import GENESIS, keyed_link, legacy_link, misfit
from bot.audit.keys import AuditKeyMissing, AuditKeys, keys_for
from bot.store.db import Database
from bot.store.tables import audit_anchor, audit_head, audit_log

__all__ = ["GENESIS", "PRUNE_ACTION", "AuditEntry", "VerifyResult", "append", "verify"]

PRUNE_ACTION = "audit.prune"
"""The entry each pruning writes; its detail names the anchor it left."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row's content. NUL characters (which PostgreSQL cannot store in text, and which a
    person can type) are replaced by U+FFFD, so a request naming one is audited, not lost."""

    actor: str
    platform: str
    action: str
    target: str
    outcome: str  # "allowed" | "denied" | "failed" | "system"
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("actor", "platform", "action", "target", "outcome"):
            object.__setattr__(self, name, _clean(getattr(self, name)))
        object.__setattr__(self, "detail", _clean(self.detail))

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.actor, self.platform, self.action, self.target, self.outcome)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


async def _lock_head(db: Database, conn: AsyncConnection) -> Any:
    stmt = db.for_update(select(audit_head).where(audit_head.c.id == 1))
    head = (await conn.execute(stmt)).first()
    if head is None:
        await conn.execute(
            db.insert(audit_head)
            .values(id=1, last_id=0, last_hash=GENESIS)
            .on_conflict_do_nothing()
        )
        head = (await conn.execute(stmt)).one()
    return head


async def append(
    db: Database,
    conn: AsyncConnection,
    entry: AuditEntry,
    at: datetime,
    *,
    keys: AuditKeys | None = None,
) -> int:
    """Append inside the caller's transaction; returns the new row id.

    Signs with `keys` (default: the keys `use_keys` gave `db`). Without any key only a chain
    with no keyed row yet can grow, as a legacy row; a keyed chain raises `AuditKeyMissing`.
    """
    keys = keys or keys_for(db)
    head = await _lock_head(db, conn)
    row_id, prev = int(head.last_id) + 1, str(head.last_hash)
    if keys is not None:
        key_id: str | None = keys.current.id
        digest = keyed_link(keys.current, prev, row_id, at, entry.fields, entry.detail)
    else:
        last = (
            await conn.execute(select(audit_log.c.key_id).where(audit_log.c.id == head.last_id))
        ).scalar()
        if last is not None:
            raise AuditKeyMissing(
                f"the audit log is keyed (row {head.last_id}: key id {last}) but no audit key "
                "was given; nothing was written"
            )
        key_id, digest = None, legacy_link(prev, row_id, at, entry.fields, entry.detail)
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
            prev_hash=prev,
            hash=digest,
            key_id=key_id,
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
    legacy_rows: int = 0
    """Good rows of the plain SHA-256 chain (written before the audit key; no key protects them
    on their own, the first keyed row after them does)."""
    key_ids: tuple[str, ...] = ()
    """The keys the good keyed rows were signed with, oldest first."""


async def verify(
    db: Database, keys: AuditKeys | None = None, *, require_keyed: bool = False
) -> VerifyResult:
    """Walk the chain from its start (or its anchor); report the first row that does not fit."""
    keys = keys or keys_for(db)
    legacy, first_legacy = 0, 0
    key_ids: dict[str, None] = {}  # an ordered set
    async with db.connect() as conn:
        anchor = (await conn.execute(select(audit_anchor).where(audit_anchor.c.id == 1))).first()
        start = int(anchor.last_id) if anchor is not None else 0
        prev = start_hash = anchor.last_hash if anchor is not None else GENESIS
        expected_id, count, recorded = start + 1, 0, None

        def bad(problem: str) -> VerifyResult:
            return VerifyResult(False, count, problem, start, legacy, tuple(key_ids))

        result = await conn.stream(
            select(audit_log).where(audit_log.c.id > start).order_by(audit_log.c.id)
        )
        async for row in result:
            if row.id != expected_id:
                return bad(f"row {expected_id} is missing (found {row.id})")
            problem = misfit(row, prev, keys, bool(key_ids))
            if problem:
                return bad(problem)
            if row.key_id is None:
                legacy, first_legacy = legacy + 1, first_legacy or row.id
            else:
                key_ids[row.key_id] = None
            if row.action == PRUNE_ACTION and isinstance(row.detail, dict):
                recorded = row.detail
            prev, expected_id, count = row.hash, expected_id + 1, count + 1
        head = (await conn.execute(select(audit_head))).first()
    last_id = expected_id - 1
    if head is not None and head.last_id > last_id:
        return bad("rows were removed from the end of the log")
    if head is not None and head.last_id < last_id:
        return bad(
            f"row {head.last_id + 1}: not in the recorded chain (the head ends at row "
            f"{head.last_id})"
        )
    if head is not None and head.last_hash != prev:
        return bad(f"row {last_id}: its hash is not the one recorded at the head of the log")
    if start > 0 and (
        recorded is None
        or recorded.get("last_id") != start
        or recorded.get("last_hash") != start_hash
    ):
        return bad(f"the anchor (pruned up to row {start}) is not the one recorded")
    if start > 0 and recorded is not None and recorded.get("keyed") and first_legacy:
        return bad(
            f"row {first_legacy}: unkeyed (plain SHA-256) entry after keyed entries "
            f"(the pruned rows up to {start} were keyed)"
        )
    if require_keyed and count and not key_ids:
        return bad(
            f"no entry is keyed: all {count} rows use the plain SHA-256 chain, which anyone "
            "with write access to the database can recompute"
        )
    return VerifyResult(True, count, pruned_to=start, legacy_rows=legacy, key_ids=tuple(key_ids))
