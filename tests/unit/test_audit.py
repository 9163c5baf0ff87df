"""The audit log's keyed chain: intact logs verify, any edit, deletion, insertion, truncation,
recomputation without the key or downgrade to plain SHA-256 shows; keys rotate."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from bot.audit import AuditEntry, AuditKey, AuditKeyMissing, AuditKeys, append, use_keys, verify
from bot.audit.chain import keyed_link, legacy_link, row_fields
from bot.audit.prune import prune_batch
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.errors import AuditChainBroken
from bot.model import CommandRequest, Destination, Sender
from bot.store.db import Database
from bot.store.tables import audit_head, audit_log

AT = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
KEYS = AuditKeys.of("the-audit-key-of-this-test")
OTHER = AuditKeys.of("a-key-the-attacker-made-up")


async def write(db: Database, n: int, keys: AuditKeys | None = KEYS, at: datetime = AT) -> None:
    for i in range(n):
        async with db.begin() as conn:
            await append(
                db,
                conn,
                AuditEntry("alice", "slack", "button:ack", f"incident:{i}", "allowed", {"i": i}),
                at,
                keys=keys,
            )


async def recompute(
    db: Database, keys: AuditKeys | None, *, key_id: str | None = "keep", start: int = 1
) -> None:
    """What an attacker with write access does: relink every row from `start` to the head,
    with plain SHA-256 (`keys` None) or a key of their own; `key_id` is what the rows claim."""
    async with db.begin() as conn:
        rows = (await conn.execute(select(audit_log).order_by(audit_log.c.id))).all()
        prev = next(r.prev_hash for r in rows if r.id >= start)
        for row in rows:
            if row.id < start:
                continue
            claimed = row.key_id if key_id == "keep" else key_id
            if keys is None:
                digest = legacy_link(prev, row.id, row.at, row_fields(row), row.detail)
            else:
                key = AuditKey(claimed or keys.current.id, keys.current.secret)
                digest = keyed_link(key, prev, row.id, row.at, row_fields(row), row.detail)
            await conn.execute(
                update(audit_log)
                .where(audit_log.c.id == row.id)
                .values(prev_hash=prev, hash=digest, key_id=claimed)
            )
            prev = digest
        await conn.execute(update(audit_head).values(last_hash=prev))


async def test_intact_chain_verifies_and_names_its_key(db: Database) -> None:
    assert (await verify(db, KEYS)).ok
    await write(db, 5)
    result = await verify(db, KEYS)
    assert result.ok and result.rows == 5 and result.key_ids == (KEYS.current.id,)
    assert result.legacy_rows == 0
    async with db.connect() as conn:
        ids = (await conn.execute(select(audit_log.c.key_id))).scalars().all()
    assert ids == [KEYS.current.id] * 5


def test_key_id_names_the_key_without_revealing_it() -> None:
    key = AuditKeys.of("the-audit-key-of-this-test").current
    assert key.id == KEYS.current.id and len(key.id) == 8
    assert key.id not in (
        key.secret.hex(),
        hashlib.sha256(b"the-audit-key-of-this-test").hexdigest(),
    )
    assert key.id != OTHER.current.id and "secret" not in repr(key)


async def test_edited_row_is_detected(db: Database) -> None:
    await write(db, 5)
    async with db.begin() as conn:
        await conn.execute(update(audit_log).where(audit_log.c.id == 3).values(outcome="denied"))
    result = await verify(db, KEYS)
    assert not result.ok and result.rows == 2
    assert result.problem == (
        f"row 3: content was changed (its HMAC under key {KEYS.current.id} does not match)"
    )


async def test_deleted_row_is_detected(db: Database) -> None:
    await write(db, 5)
    async with db.begin() as conn:
        await conn.execute(delete(audit_log).where(audit_log.c.id == 2))
    result = await verify(db, KEYS)
    assert not result.ok and "row 2 is missing" in result.problem


async def test_truncated_tail_is_detected(db: Database) -> None:
    await write(db, 5)
    async with db.begin() as conn:
        await conn.execute(delete(audit_log).where(audit_log.c.id == 5))
    result = await verify(db, KEYS)
    assert not result.ok and "removed from the end" in result.problem


async def test_row_added_at_the_end_is_detected(db: Database) -> None:
    await write(db, 3)
    await write(db, 1, keys=OTHER)  # appended with a key of the attacker's
    result = await verify(db, KEYS)
    assert not result.ok
    assert result.problem.startswith(f"row 4: signed with key id {OTHER.current.id}")


async def test_recomputed_chain_without_the_key_breaks_at_its_first_row(db: Database) -> None:
    await write(db, 4)
    async with db.begin() as conn:
        await conn.execute(update(audit_log).where(audit_log.c.id == 2).values(outcome="denied"))
    await recompute(db, None)  # plain SHA-256, rows still claiming the key
    assert (await verify(db, KEYS)).problem.startswith("row 1: content was changed (its HMAC")
    await recompute(db, OTHER)  # another key, rows still claiming ours
    assert (await verify(db, KEYS)).problem.startswith("row 1: content was changed (its HMAC")
    await recompute(db, OTHER, key_id=OTHER.current.id)
    assert (await verify(db, KEYS)).problem.startswith(
        f"row 1: signed with key id {OTHER.current.id}, which is not configured"
    )


async def test_downgrade_to_plain_sha256_is_detected(db: Database) -> None:
    await write(db, 4)
    await recompute(db, None, key_id=None, start=3)  # rows 3-4 relinked as legacy rows
    result = await verify(db, KEYS)
    assert not result.ok and result.problem.startswith(
        "row 3: unkeyed (plain SHA-256) entry after keyed entries"
    )
    # Every row downgraded: indistinguishable from a chain never keyed, except by policy.
    await recompute(db, None, key_id=None)
    lenient = await verify(db, KEYS)
    assert lenient.ok and lenient.legacy_rows == 4 and lenient.key_ids == ()
    strict = await verify(db, KEYS, require_keyed=True)
    assert not strict.ok and "no entry is keyed" in strict.problem


async def test_rotated_key_still_verifies_older_rows(db: Database) -> None:
    await write(db, 3, keys=AuditKeys.of("the-key-of-last-year-xx"))
    rotated = AuditKeys.of("the-key-of-this-year-xx", ["the-key-of-last-year-xx"])
    await write(db, 2, keys=rotated)
    result = await verify(db, rotated)
    assert result.ok and result.rows == 5 and len(result.key_ids) == 2
    assert result.key_ids[-1] == rotated.current.id
    forgotten = await verify(db, AuditKeys.of("the-key-of-this-year-xx"))
    assert not forgotten.ok and forgotten.problem.startswith("row 1: signed with key id")


async def test_appends_sign_with_the_keys_given_to_the_database(db: Database) -> None:
    use_keys(db, KEYS)
    await write(db, 2, keys=None)
    assert (await verify(db)).key_ids == (KEYS.current.id,)


async def test_a_keyed_chain_refuses_an_unkeyed_append(db: Database) -> None:
    await write(db, 2)
    with pytest.raises(AuditKeyMissing, match="no audit key"):
        await write(db, 1, keys=None)
    assert (await verify(db, KEYS)).rows == 2


async def test_keyed_chain_verifies_from_the_pruning_anchor(db: Database) -> None:
    await write(db, 6, at=AT - timedelta(days=60))
    await write(db, 2)
    assert await prune_batch(db, AT - timedelta(days=30), now=AT, limit=100, keys=KEYS) == 6
    result = await verify(db, KEYS)
    assert result.ok and result.pruned_to == 6 and result.rows == 3
    async with db.connect() as conn:
        detail = (await conn.execute(select(audit_log.c.detail).where(audit_log.c.id == 9))).one()
    assert detail[0]["keyed"] is True
    # rows after a keyed anchor relinked as plain SHA-256 (the prune entry too) are refused
    await recompute(db, None, key_id=None, start=7)
    assert (await verify(db, KEYS)).problem == (
        "row 7: unkeyed (plain SHA-256) entry after keyed entries "
        "(the pruned rows up to 6 were keyed)"
    )


async def test_pruning_refuses_rows_that_do_not_verify_under_the_key(db: Database) -> None:
    await write(db, 3, at=AT - timedelta(days=60))
    await recompute(db, OTHER)
    with pytest.raises(AuditChainBroken, match="audit row 1 does not verify"):
        await prune_batch(db, AT - timedelta(days=30), now=AT, limit=100, keys=KEYS)


async def test_pruning_without_the_key_leaves_a_keyed_chain_alone(db: Database) -> None:
    await write(db, 3, at=AT - timedelta(days=60))
    with pytest.raises(AuditKeyMissing, match="nothing was pruned"):
        await prune_batch(db, AT - timedelta(days=30), now=AT, limit=100)
    assert (await verify(db, KEYS)).rows == 3


async def test_a_running_tocsin_links_every_row_with_its_key(tocsin: Tocsin) -> None:
    """The composition root gives the database its audit keys: the dispatcher's rows (here a
    stranger's refused command) are keyed, and verify with the configuration's keys only."""
    request = CommandRequest(
        "/ack 1", Sender("fake", "U-NOBODY"), Destination("fake", "ops"), "e-1", FakeClock().now()
    )
    await tocsin.dispatcher.command(request)
    keys = AuditKeys.from_settings(tocsin.settings)
    result = await verify(tocsin.services.db, keys, require_keyed=True)
    assert result.ok and result.rows == 1 and result.key_ids == (keys.current.id,)
