"""`tocsin audit verify` on the real store: tampering is named by entry and reason, rotated keys
verify, and a chain written by the plain SHA-256 code before migration 0013 upgrades."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from alembic import command
from sqlalchemy import delete, select, update

from bot.audit import AuditEntry, AuditKey, AuditKeys, append
from bot.audit.chain import keyed_link, legacy_link, row_fields
from bot.cli import main
from bot.settings import parse_settings
from bot.store.db import Database
from bot.store.migrate import alembic_config, upgrade
from bot.store.tables import audit_head, audit_log
from tests.support import SECRET_KEY, base_config

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
AUDIT_KEY = "a-dedicated-audit-key-0001"
NEXT_KEY = "a-dedicated-audit-key-0002"


def write_config(tmp_path: Path, url: str, **audit: Any) -> Path:
    raw = base_config(database={"url": url}, audit=audit)
    path = tmp_path / f"tocsin-{len(list(tmp_path.glob('tocsin-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def keys_of(path: Path) -> AuditKeys:
    return AuditKeys.from_settings(parse_settings(yaml.safe_load(path.read_text()), env={}))


async def verify_cli(
    capsys: pytest.CaptureFixture[str], config: Path, *extra: str
) -> tuple[int, str, str]:
    args = ["audit", "verify", "--config", str(config), *extra]
    code = await asyncio.to_thread(main, args)
    out, err = capsys.readouterr()
    return code, out, err


async def write(db: Database, keys: AuditKeys, outcomes: str) -> None:
    for n, outcome in enumerate(outcomes.split()):
        async with db.begin() as conn:
            entry = AuditEntry("bob", "slack", "command", f"rollback orders {n}", outcome)
            await append(db, conn, entry, AT, keys=keys)


async def relink(
    db: Database, key: AuditKey | None, upto: int | None = None, start: int = 1
) -> None:
    """The attacker's tool: recompute the links from `start` (to `upto`) with plain SHA-256
    or `key`."""
    async with db.begin() as conn:
        rows = (await conn.execute(select(audit_log).order_by(audit_log.c.id))).all()
        prev = next(r.prev_hash for r in rows if r.id >= start)
        for row in rows:
            if row.id < start:
                continue
            if upto is not None and row.id > upto:
                break
            fields = row_fields(row)
            digest = (
                legacy_link(prev, row.id, row.at, fields, row.detail)
                if key is None
                else keyed_link(key, prev, row.id, row.at, fields, row.detail)
            )
            values = {"prev_hash": prev, "hash": digest}
            await conn.execute(update(audit_log).where(audit_log.c.id == row.id).values(values))
            prev = digest
        if upto is None:
            await conn.execute(update(audit_head).values(last_hash=prev))


@pytest.fixture
def config(tmp_path: Path, db: Database) -> Path:
    return write_config(tmp_path, db.url)


async def test_intact_chain(db: Database, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = keys_of(config)
    await write(db, keys, "allowed denied allowed")
    code, out, err = await verify_cli(capsys, config)
    assert code == 0 and err == ""
    assert "audit log intact: 3 rows" in out and f"3 keyed (key ids {keys.current.id}" in out


async def test_edited_row_is_named(
    db: Database, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await write(db, keys_of(config), "allowed denied allowed")
    async with db.begin() as conn:
        await conn.execute(update(audit_log).where(audit_log.c.id == 2).values(outcome="allowed"))
    code, _, err = await verify_cli(capsys, config)
    assert code == 1
    assert "TAMPERED after 1 good rows: row 2: content was changed (its HMAC under key" in err


async def test_deleted_row_is_named(
    db: Database, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await write(db, keys_of(config), "allowed denied allowed")
    async with db.begin() as conn:
        await conn.execute(delete(audit_log).where(audit_log.c.id == 2))
    code, _, err = await verify_cli(capsys, config)
    assert code == 1 and "row 2 is missing (found 3)" in err


async def test_inserted_row_is_named(
    db: Database, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = keys_of(config)
    await write(db, keys, "allowed denied allowed")
    forger = AuditKey(keys.current.id, b"not the key" * 3)  # claims the real key's id
    async with db.begin() as conn:
        rows = (await conn.execute(select(audit_log).order_by(audit_log.c.id.desc()))).all()
        for row in rows:  # make room for a row 2, last row first
            if row.id >= 2:
                await conn.execute(
                    update(audit_log).where(audit_log.c.id == row.id).values(id=row.id + 1)
                )
        fields = ("bob", "slack", "command", "approve orders", "allowed")
        prev = rows[-1].hash
        digest = keyed_link(forger, prev, 2, AT, fields, {})
        await conn.execute(
            audit_log.insert().values(
                id=2, at=AT, actor="bob", platform="slack", action="command",
                target="approve orders", outcome="allowed", detail={}, prev_hash=prev,
                hash=digest, key_id=keys.current.id,
            )
        )  # fmt: skip
        await conn.execute(update(audit_head).values(last_id=4))
    code, _, err = await verify_cli(capsys, config)
    assert code == 1 and "after 1 good rows: row 2: content was changed (its HMAC" in err


async def test_chain_recomputed_with_plain_sha256_is_named(
    db: Database, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await write(db, keys_of(config), "denied denied")
    async with db.begin() as conn:  # row 2 rewritten as if written before the key
        await conn.execute(
            update(audit_log).where(audit_log.c.id == 2).values(outcome="allowed", key_id=None)
        )
    await relink(db, None, start=2)
    code, _, err = await verify_cli(capsys, config)
    assert code == 1
    assert "after 1 good rows: row 2: unkeyed (plain SHA-256) entry after keyed entries" in err
    await relink(db, None)  # every link recomputed, row 1 still naming its key
    code, _, err = await verify_cli(capsys, config)
    assert code == 1 and "after 0 good rows: row 1: content was changed (its HMAC" in err
    async with db.begin() as conn:  # every row: only the policy flag can tell
        await conn.execute(update(audit_log).values(key_id=None))
    code, out, err = await verify_cli(capsys, config)
    assert code == 0 and "2 legacy rows" in out and "warning: no entry is keyed" in err
    code, _, err = await verify_cli(capsys, config, "--require-keyed")
    assert code == 1 and "no entry is keyed: all 2 rows use the plain SHA-256 chain" in err


async def test_chain_recomputed_with_another_key_is_named(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, db.url, key=AUDIT_KEY)
    await write(db, keys_of(config), "denied denied")
    async with db.begin() as conn:
        await conn.execute(update(audit_log).values(outcome="allowed"))
    await relink(db, AuditKey(keys_of(config).current.id, b"guessed" * 5))
    code, _, err = await verify_cli(capsys, config)
    assert code == 1 and "row 1: content was changed (its HMAC" in err
    # the server's tocsin.secret_key is not the audit key once audit.key is set
    stolen = AuditKeys.of(SECRET_KEY).current
    async with db.begin() as conn:
        await conn.execute(update(audit_log).values(key_id=stolen.id))
    await relink(db, stolen)
    code, _, err = await verify_cli(capsys, config)
    assert code == 1 and f"row 1: signed with key id {stolen.id}, which is not configured" in err


async def test_rotated_key_verifies_with_the_old_key_in_previous_keys(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = write_config(tmp_path, db.url)  # signed with tocsin.secret_key
    await write(db, keys_of(before), "allowed denied")
    dedicated = write_config(tmp_path, db.url, key=AUDIT_KEY, previous_keys=[SECRET_KEY])
    await write(db, keys_of(dedicated), "allowed")
    rotated = write_config(tmp_path, db.url, key=NEXT_KEY, previous_keys=[AUDIT_KEY, SECRET_KEY])
    await write(db, keys_of(rotated), "denied")
    code, out, _ = await verify_cli(capsys, rotated)
    assert code == 0 and "audit log intact: 4 rows" in out
    assert f"current {keys_of(rotated).current.id}" in out
    forgot = write_config(tmp_path, db.url, key=NEXT_KEY, previous_keys=[AUDIT_KEY])
    code, _, err = await verify_cli(capsys, forgot)
    assert code == 1 and f"row 1: signed with key id {keys_of(before).current.id}" in err


def old_digest(prev: str, row_id: int, at: datetime, entry: AuditEntry) -> str:
    """The link as the code before migration 0013 made it (copied, so it cannot drift)."""
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


async def old_code_writes(db: Database, outcomes: list[str]) -> None:
    """What the old `append` stored, on a database at revision 0012 (no `key_id` column)."""
    prev = "0" * 64
    async with db.begin() as conn:
        await conn.execute(audit_head.insert().values(id=1, last_id=0, last_hash=prev))
        for row_id, outcome in enumerate(outcomes, start=1):
            entry = AuditEntry("carol", "dingtalk", "button:rollback", "orders prod", outcome)
            digest = old_digest(prev, row_id, AT, entry)
            await conn.execute(
                audit_log.insert().values(
                    id=row_id, at=AT, actor=entry.actor, platform=entry.platform,
                    action=entry.action, target=entry.target, outcome=outcome, detail={},
                    prev_hash=prev, hash=digest,
                )
            )  # fmt: skip
            prev = digest
        await conn.execute(update(audit_head).values(last_id=len(outcomes), last_hash=prev))


async def test_chain_of_the_old_code_upgrades(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database(db_url)
    try:

        def to_0012(sync_conn: Any) -> None:
            cfg = alembic_config(db_url)
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, "0012")

        async with db.begin() as conn:
            await conn.run_sync(to_0012)
        await old_code_writes(db, ["denied", "denied", "allowed"])
        await upgrade(db)
        config = write_config(tmp_path, db_url)
        code, out, err = await verify_cli(capsys, config)
        assert code == 0 and "3 legacy rows" in out and "no entry is keyed" in err
        assert (await verify_cli(capsys, config, "--require-keyed"))[0] == 1

        await write(db, keys_of(config), "allowed denied")
        code, out, err = await verify_cli(capsys, config, "--require-keyed")
        assert code == 0 and err == ""
        assert "audit log intact: 5 rows" in out and "2 keyed" in out and "3 legacy" in out

        async with db.begin() as conn:  # an old row edited: the legacy chain still shows it
            await conn.execute(
                update(audit_log).where(audit_log.c.id == 2).values(outcome="allowed")
            )
        code, _, err = await verify_cli(capsys, config)
        assert code == 1 and "after 1 good rows: row 2: content was changed" in err
        await relink(db, None, upto=3)  # and the legacy prefix recomputed to hide it
        code, _, err = await verify_cli(capsys, config)
        assert code == 1 and "after 3 good rows: row 4: previous hash does not match" in err
        async with db.begin() as conn:  # and the first keyed row pointed at the new prefix
            tip = (await conn.execute(select(audit_log.c.hash).where(audit_log.c.id == 3))).one()
            await conn.execute(
                update(audit_log).where(audit_log.c.id == 4).values(prev_hash=tip.hash)
            )
        code, _, err = await verify_cli(capsys, config)
        assert code == 1 and "row 4: content was changed (its HMAC under key" in err
    finally:
        await db.dispose()
