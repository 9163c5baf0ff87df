"""Replay guards in the database: one claim per key across replicas, released on failure, long
keys stored hashed. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from bot.clock import FakeClock
from bot.replay import MAX_KEY, MemoryReplays, ReplayGuard, Replays
from bot.store.db import Database
from bot.store.tables import inbound_events


async def claims(replays: Replays, other: Replays, key: str) -> list[bool]:
    return [
        await replays.claim(key),
        await other.claim(key),
        await replays.release(key) or await other.claim(key),
    ]


async def test_a_key_is_claimed_once_across_replicas_until_released(db: Database) -> None:
    clock = FakeClock()
    one, two = ReplayGuard(db, clock, "dingtalk:replay"), ReplayGuard(db, clock, "dingtalk:replay")
    assert await claims(one, two, "1577262236757:c2lnbg==") == [True, False, True]
    assert await ReplayGuard(db, clock, "wecom:replay").claim("1577262236757:c2lnbg==")
    memory = MemoryReplays()
    assert await claims(memory, memory, "k") == [True, False, True]


async def test_long_keys_are_stored_hashed(db: Database) -> None:
    guard, clock = ReplayGuard(db, FakeClock(), "feishu:replay"), FakeClock()
    long, longer = "n" * 5000, "n" * 5001
    assert await guard.claim(long) and await guard.claim(longer)
    assert not await ReplayGuard(db, clock, "feishu:replay").claim(long)
    async with db.connect() as conn:
        stored = (await conn.execute(select(inbound_events.c.event_id))).scalars().all()
    assert len(stored) == 2 and all(len(key) <= MAX_KEY for key in stored)
