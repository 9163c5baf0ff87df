"""Pruning the oldest audit entries without breaking the chain.

Only a prefix of the chain is ever deleted, one batch per transaction. Before a batch goes, its
rows are checked against the chain (so pruning never hides an edit); the `audit_anchor` row then
keeps the last deleted entry's id and hash, and an `audit.prune` entry records the same anchor
in the chain itself, with whether the last deleted entry was keyed (so an unkeyed row after the
anchor cannot pass as legacy). `verify` starts from the anchor and checks that it is the
recorded one. The prune entry is signed like any other, with the keys `use_keys` gave `db`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, func, select

from bot.audit.chain import GENESIS, misfit
from bot.audit.keys import AuditKeyMissing, AuditKeys, keys_for
from bot.audit.log import PRUNE_ACTION, AuditEntry, append
from bot.errors import AuditChainBroken
from bot.store.db import Database
from bot.store.tables import audit_anchor, audit_log


async def count_prunable(db: Database, cutoff: datetime) -> int:
    async with db.connect() as conn:
        anchor = (await conn.execute(select(audit_anchor.c.last_id))).scalar() or 0
        stmt = select(func.count()).where(and_(audit_log.c.id > anchor, audit_log.c.at < cutoff))
        return int((await conn.execute(stmt)).scalar_one())


async def prune_batch(
    db: Database,
    cutoff: datetime,
    *,
    now: datetime,
    limit: int,
    keys: AuditKeys | None = None,
) -> int:
    """Delete up to `limit` of the oldest entries written before `cutoff`; returns how many."""
    keys = keys or keys_for(db)
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
        keyed = False  # before the anchor: `verify` checks it against the prune entry
        for row in rows:
            if row.at >= cutoff:
                break
            if keys is None and row.key_id is not None:
                raise AuditKeyMissing(
                    f"audit row {row.id} is keyed (key id {row.key_id}) but no audit key was "
                    "given; nothing was pruned from the audit log"
                )
            if row.id != expected or misfit(row, prev, keys, keyed):
                raise AuditChainBroken(
                    f"audit row {expected} does not verify; run 'tocsin audit verify' "
                    "(nothing was pruned from the audit log)"
                )
            keyed = keyed or row.key_id is not None
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
                {
                    "first_id": first_id,
                    "last_id": int(last.id),
                    "last_hash": last.hash,
                    "keyed": last.key_id is not None,
                },
            ),
            now,
            keys=keys,
        )
        return int(last.id) - first_id + 1
