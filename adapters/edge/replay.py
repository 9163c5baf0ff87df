"""The one rule for signed inbound requests: fresh within the platform's window, then once.

A platform's signature proves who sent a request and when, not that it is new. So a signed
request is let through when

1. its timestamp is *fresh*: ASCII digits (surrounding spaces ignored, at most 16 of them)
   counting the platform's unit since the Unix epoch — seconds, or milliseconds for DingTalk —
   and no further from now than the platform's window, either way. A stamp exactly at the
   window's edge is fresh; one unit past it is stale (or from the future, a skewed clock);
2. its key (what identifies that one request on its platform: a signature, a nonce, a body
   digest) is *claimed once* in `bot.replay`, which every replica shares.

Freshness bounds how long a captured request stays worth replaying; the claim refuses the
replay within that time. Claims outlive every window (`bot.replay` keeps them a day at least).
The window is each platform's data: Slack's fixed 5 minutes, the others' from their settings
(DingTalk's one hour, Feishu's and WeCom's 5 minutes by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from bot.clock import Clock
from bot.replay import Replays

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_DIGITS = 16
"""Longer than any timestamp in seconds or milliseconds for millennia; more is not a time."""
_MICRO = timedelta(microseconds=1)


class Stamp(Enum):
    FRESH = "fresh"
    MALFORMED = "malformed"
    """Not a timestamp at all (empty, a sign, a non-ASCII digit, too long)."""
    STALE = "stale"
    """Outside the window: too old, or from the future."""


@dataclass(frozen=True, slots=True)
class Window:
    """How far a platform's timestamps may be from now, and the unit they count."""

    span: timedelta
    per_second: int = 1
    """Timestamp units in a second: 1 for seconds, 1000 for milliseconds."""

    def __post_init__(self) -> None:
        if self.per_second < 1 or 1_000_000 % self.per_second:
            raise ValueError("per_second must divide a million (1 for seconds, 1000 for ms)")

    def judge(self, raw: str, now: datetime) -> Stamp:
        """Whether `raw` is a timestamp within the window of `now` (exact, no rounding)."""
        digits = raw.strip()
        if not (0 < len(digits) <= MAX_DIGITS and digits.isascii() and digits.isdigit()):
            return Stamp.MALFORMED
        sent = int(digits) * (1_000_000 // self.per_second)
        offset = abs((now - EPOCH) // _MICRO - sent)
        return Stamp.FRESH if offset <= self.span // _MICRO else Stamp.STALE

    def fresh(self, raw: str, now: datetime) -> bool:
        return self.judge(raw, now) is Stamp.FRESH


class SignedOnce:
    """A platform's window on Tocsin's clock, and its claims: the rule above for one platform."""

    def __init__(self, window: Window, clock: Clock, replays: Replays) -> None:
        self.window, self.clock, self.replays = window, clock, replays

    def judge(self, raw: str) -> Stamp:
        return self.window.judge(raw, self.clock.now())

    def fresh(self, raw: str) -> bool:
        return self.window.fresh(raw, self.clock.now())

    async def claim(self, key: str) -> bool:
        """Whether the request with `key` is new, and is now claimed. Raises when the claim
        cannot be stored (the database is unavailable): better refused than let through twice."""
        return await self.replays.claim(key)

    async def release(self, key: str) -> None:
        """The request claimed as `key` failed: let the platform's retry of it through."""
        await self.replays.release(key)
