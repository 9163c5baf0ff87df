"""Pruning the oldest audit entries without breaking the chain.

Only a prefix of the chain is ever deleted, one batch per transaction. Before a batch goes, its
rows are checked against the chain (so pruning never hides an edit); the `audit_anchor` row then
keeps the last deleted entry's id and hash, and an `audit.prune` entry records the same anchor
in the chain itself. `verify` starts from the anchor and checks that it is the recorded one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, func, select

from bot.audit.log import GENESIS, PRUNE_ACTION, AuditEntry, _digest, append
from bot.errors import AuditChainBroken
from bot.store.db import Database
from bot.store.tables import audit_anchor, audit_log


async def count_prunable(db: Database, cutoff: datetime) -> int:
    async with db.connect() as conn:
        anchor = (await conn.execute(select(audit_anchor.c.last_id))).scalar() or 0
        stmt = select(func.count()).where(and_(audit_log.c.id > anchor, audit_log.c.at < cutoff))
        return int((await conn.execute(stmt)).scalar_one())


async def prune_batch(db: Database, cutoff: datetime, *, now: datetime, limit: int) -> int:
    """Delete up to `limit` of the oldest entries written before `cutoff`; returns how many."""
    async with db.begin() as conn:
        anchor = (
            await conn.execute(
                db.for_update(select(audit_anchor).where(audit_anchor.c.id == 1), skip_locked=True)
            )
        ).first()
        if anchor is None:
            await conn.execute(
                db.insert(audit_anchor)
                .values(id=1, last_id=0, last_hash=GENESIS, last_at=now, pruned_at=now)
                .on_conflict_do_nothing()
            )
            anchor = (
                await conn.execute(
                    db.for_update(
                        select(audit_anchor).where(audit_anchor.c.id == 1), skip_locked=True
                    )
                )
            ).first()
            if anchor is None:  # another replica is pruning the audit log right now
                return 0
        rows = (
            await conn.execute(
                select(audit_log)
                .where(audit_log.c.id > anchor.last_id)
                .order_by(audit_log.c.id)
                .limit(limit)
            )
        ).all()
        prev, expected, last = anchor.last_hash, int(anchor.last_id) + 1, None
        for row in rows:
            if row.at >= cutoff:
                break
            entry = AuditEntry(
                row.actor, row.platform, row.action, row.target, row.outcome, row.detail
            )
            if (
                row.id != expected
                or row.prev_hash != prev
                or _digest(prev, row.id, row.at, entry) != row.hash
            ):
                raise AuditChainBroken(
                    f"audit row {expected} does not verify; run 'tocsin audit verify' "
                    "(nothing was pruned from the audit log)"
                )
            prev, expected, last = row.hash, expected + 1, row
        if last is None:
            return 0
        first_id = int(anchor.last_id) + 1
        await conn.execute(
            delete(audit_log).where(
                and_(audit_log.c.id > anchor.last_id, audit_log.c.id <= last.id)
            )
        )
        await conn.execute(
            audit_anchor.update()
            .where(audit_anchor.c.id == 1)
            .values(last_id=last.id, last_hash=last.hash, last_at=last.at, pruned_at=now)
        )
        await append(
            db,
            conn,
            AuditEntry(
                "tocsin",
                "tocsin",
                PRUNE_ACTION,
                f"audit:{first_id}-{last.id}",
                "system",
                {"first_id": first_id, "last_id": int(last.id), "last_hash": last.hash},
            ),
            now,
        )
        return int(last.id) - first_id + 1
