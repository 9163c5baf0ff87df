"""Reconnect delays for the long-lived connections (Slack Socket Mode, DingTalk Stream).

Each failure doubles the delay from `low` up to `high`; each delay has up to half taken off at
random, so many replicas dropped by one outage do not all reconnect in the same instant. A
connection that lived `stable` seconds proves the trouble is over: the next delay starts from
the bottom again (`after`). The randomness is injected, so tests can pin it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

STABLE = 60.0
"""Seconds a connection must last before the back-off starts again from its minimum."""


class Backoff:
    """Doubling delays between `low` and `high` seconds, each with up to half off as jitter."""

    def __init__(
        self,
        low: float,
        high: float,
        rand: Callable[[], float] = random.random,
        *,
        stable: float = STABLE,
    ) -> None:
        self.low, self.high, self.rand, self.stable = low, high, rand, stable
        self.failures = 0

    def next(self) -> float:
        """The delay before the next attempt, counting one more failure."""
        delay = min(self.high, self.low * 2.0**self.failures)
        self.failures += 1
        return delay * (0.5 + self.rand() / 2)

    def after(self, lived: float) -> float:
        """The delay after a connection that lasted `lived` seconds dropped."""
        if lived >= self.stable:
            self.reset()
        return self.next()

    def reset(self) -> None:
        self.failures = 0
