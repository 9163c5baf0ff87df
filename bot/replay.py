"""Replay guards: a signed request is accepted once, by whichever replica receives it first.

A platform's signature proves who sent a request and when, not that it is new: the same signed
request captured and sent again passes verification for as long as its timestamp stays fresh.
`ReplayGuard` remembers what was accepted in the database (``inbound_events``, under a platform
name such as ``dingtalk:replay``), so several replicas behind a load balancer refuse a replay as
one. `claim` is atomic (the row is inserted or it was already there); `release` forgets a claim
whose request failed, so the platform's retry of it gets through. Rows outlive any replay window:
``inbound_events`` is pruned after at least a day (see `bot.retention`).

`MemoryReplays` is the in-memory fake for tests that need no database.
"""

from __future__ import annotations

from typing import Protocol

from bot.clock import Clock
from bot.store.db import Database
from bot.store.keys import bounded
from bot.store.tables import inbound_events

MAX_KEY = 256
"""``inbound_events.event_id`` holds this many characters; longer keys are stored bounded
(a prefix and a hash, `bot.store.keys.bounded`)."""


class Replays(Protocol):
    async def claim(self, key: str) -> bool:
        """Whether `key` was new, and is now claimed."""
        ...

    async def release(self, key: str) -> None:
        """Forget the claim on `key` (its request failed)."""
        ...


class ReplayGuard:
    """Claims in the database, shared by every replica on it."""

    def __init__(self, db: Database, clock: Clock, platform: str) -> None:
        self.db, self.clock, self.platform = db, clock, platform

    async def claim(self, key: str) -> bool:
        stmt = (
            self.db.insert(inbound_events)
            .values(
                platform=self.platform, event_id=bounded(key, MAX_KEY), received_at=self.clock.now()
            )
            .on_conflict_do_nothing()
            .returning(inbound_events.c.event_id)
        )
        async with self.db.begin() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def release(self, key: str) -> None:
        stmt = inbound_events.delete().where(
            inbound_events.c.platform == self.platform,
            inbound_events.c.event_id == bounded(key, MAX_KEY),
        )
        async with self.db.begin() as conn:
            await conn.execute(stmt)


class MemoryReplays:
    """One process's claims, for tests."""

    def __init__(self) -> None:
        self.claimed: set[str] = set()

    async def claim(self, key: str) -> bool:
        if bounded(key, MAX_KEY) in self.claimed:
            return False
        self.claimed.add(bounded(key, MAX_KEY))
        return True

    async def release(self, key: str) -> None:
        self.claimed.discard(bounded(key, MAX_KEY))
