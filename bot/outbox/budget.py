"""Send budgets per destination, kept in the database so that every replica spends the same one.

Each destination (``slack:C042``, ``wecom-robot:ops``) has one row in ``send_budgets``:

- a token bucket (``tokens`` at ``updated_at``) refilled at the platform's rate up to its burst:
  Slack about one message a second per channel with short bursts, Feishu five a second per chat;
- for platforms whose limit is "N in any minute" (DingTalk and WeCom group robots: 20), the send
  times of the last N messages (``recent``, microseconds since the epoch), so a message goes only
  while fewer than N were sent in the closed window ``[now - per, now]``. Whatever the bucket's
  rate and burst, no window of that length ever holds more than N sends;
- ``blocked_until``: a platform's Retry-After, seen by one replica, holds back all of them.

`Budgets.take` grants up to the number of messages a worker holds for a destination in one short
transaction (the row locked with ``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers
anyway). A send counts from the moment it is granted, whether it then succeeds or fails: the
platform counts attempts too. Times come from the injected clock.

Retention: one row per destination ever sent to (a few per chat), each of bounded size (at most
N recent send times); nothing grows with traffic, so there is no pruning pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import Database
from bot.store.tables import send_budgets

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = 1_000_000
WINDOW_MARGIN = 1.0
"""Seconds added to a platform's "N in any minute" window (see `Limit.usable_per`)."""
_ROUNDING = 1e-9
"""Tokens counted whole despite floating-point dust (0.9999999999 is one token)."""


def _micros(when: datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _MICRO + delta.microseconds


def _time(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True, slots=True)
class Limit:
    """How fast one destination of a platform may be sent to."""

    rate: float
    """Bucket tokens added per second."""
    burst: int
    """Bucket size: how many may go at once after a quiet spell."""
    window: int = 0
    """At most this many sends in any `per` seconds (0: no such limit)."""
    per: float = 60.0

    @property
    def usable_burst(self) -> int:
        """The burst Tocsin spends: one message short of the platform's (when that leaves any).
        A send counts here when it is granted and at the platform when it arrives; the spare
        message absorbs the difference, so a send at the bucket's edge is not refused."""
        return max(1, self.burst - 1)

    @property
    def usable_per(self) -> float:
        """The window Tocsin keeps: `WINDOW_MARGIN` longer than the platform's, for the same
        reason (the 21st message must not reach a robot while the 1st is still in its minute)."""
        return self.per + WINDOW_MARGIN

    def capacity(self, seconds: float) -> float:
        """The most messages this limit lets through in `seconds` from a rested start."""
        bucket = self.usable_burst + self.rate * seconds
        if not self.window:
            return bucket
        return min(bucket, self.window * (math.floor(seconds / self.usable_per) + 1))


DEFAULT = Limit(rate=1.0, burst=5)


@dataclass(slots=True)
class State:
    """A destination's budget as stored (times in microseconds since the epoch)."""

    tokens: float
    updated: int
    blocked_until: int | None
    recent: list[int]


@dataclass(frozen=True, slots=True)
class Grant:
    count: int
    """How many messages may go now."""
    retry_at: datetime | None
    """When the next one may go, if fewer were granted than asked for."""


def grant(limit: Limit, state: State, now: int, want: int) -> tuple[int, State, int | None]:
    """Spend up to `want` sends at `now` (µs): how many, the new state, and when the next may
    go if not all could (µs). Pure: the database only stores what this decides."""
    elapsed = max(0, now - state.updated) / _MICRO
    tokens = min(float(limit.usable_burst), state.tokens + elapsed * limit.rate)
    per = round(limit.usable_per * _MICRO)
    recent = sorted(t for t in state.recent if t >= now - per) if limit.window else []
    if state.blocked_until is not None and now < state.blocked_until:
        return 0, state, state.blocked_until
    count = min(want, math.floor(tokens + _ROUNDING))
    if limit.window:
        count = min(count, limit.window - len(recent))
    count = max(0, count)
    tokens -= count
    recent.extend([now] * count)
    if limit.window:
        recent = recent[-limit.window :]
    after = State(tokens, now, None, recent)
    if count >= want:
        return count, after, None
    next_at = now
    if tokens + _ROUNDING < 1.0:
        next_at = now + math.ceil((1.0 - tokens) / limit.rate * _MICRO)
    if limit.window and len(recent) >= limit.window:
        # the oldest send in the window must fall out of it: strictly more than `per` ago
        next_at = max(next_at, recent[len(recent) - limit.window] + per + 1)
    return count, after, next_at


class Budgets:
    """The send budgets of every destination, with each platform's `Limit`."""

    def __init__(self, db: Database, limits: Mapping[str, Limit]) -> None:
        self.db = db
        self._limits = dict(limits)

    def limit(self, platform: str) -> Limit:
        return self._limits.get(platform, DEFAULT)

    def rate(self, platform: str) -> tuple[float, int]:
        limit = self.limit(platform)
        return limit.rate, limit.burst

    async def take(self, destination: str, now: datetime, want: int = 1) -> Grant:
        """Take up to `want` sends to `destination` now, for every replica at once."""
        limit = self.limit(destination.partition(":")[0])
        at = _micros(now)
        async with self.db.begin() as conn:
            stored = await self._locked(conn, destination, limit, at)
            count, state, next_at = grant(limit, stored, at, want)
            if count:
                await self._store(conn, destination, state)
        return Grant(count, None if next_at is None else _time(next_at))

    async def block(self, destination: str, now: datetime, until: datetime) -> None:
        """The platform said Retry-After: nobody sends to `destination` before `until`."""
        limit = self.limit(destination.partition(":")[0])
        at, end = _micros(now), _micros(until)
        async with self.db.begin() as conn:
            stored = await self._locked(conn, destination, limit, at)
            blocked = max(end, stored.blocked_until or end)
            await self._store(conn, destination, State(0.0, at, blocked, stored.recent))

    async def blocked_until(self, conn: AsyncConnection, destination: str) -> datetime | None:
        """When a Retry-After on `destination` ends (None: never blocked), read in `conn`."""
        found = await conn.execute(
            select(send_budgets.c.blocked_until).where(send_budgets.c.destination == destination)
        )
        value: datetime | None = found.scalar_one_or_none()
        return value

    async def _locked(
        self, conn: AsyncConnection, destination: str, limit: Limit, now: int
    ) -> State:
        """The destination's budget, its row locked until the transaction ends. The first
        send to a destination creates the row (full bucket); a replica racing to create it
        waits for the other's row and then locks that."""
        query = self.db.for_update(
            select(send_budgets).where(send_budgets.c.destination == destination)
        )
        row = (await conn.execute(query)).first()
        if row is None:
            await conn.execute(
                self.db.insert(send_budgets)
                .values(
                    destination=destination,
                    tokens=float(limit.usable_burst),
                    updated_at=_time(now),
                    blocked_until=None,
                    recent=[],
                )
                .on_conflict_do_nothing()
            )
            row = (await conn.execute(query)).one()
        return _state(row)

    async def _store(self, conn: AsyncConnection, destination: str, state: State) -> None:
        await conn.execute(
            update(send_budgets)
            .where(send_budgets.c.destination == destination)
            .values(
                tokens=state.tokens,
                updated_at=_time(state.updated),
                blocked_until=None if state.blocked_until is None else _time(state.blocked_until),
                recent=state.recent,
            )
        )


def _state(row: Any) -> State:
    blocked = row.blocked_until
    return State(
        float(row.tokens),
        _micros(row.updated_at),
        None if blocked is None else _micros(blocked),
        [int(t) for t in row.recent],
    )
