"""Token buckets per destination, driven by an injected `now` (seconds, monotonic or wall)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float
    """Tokens added per second."""
    burst: int
    tokens: float = -1.0
    updated: float = 0.0
    blocked_until: float = 0.0

    def _refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens, self.updated = float(self.burst), now
            return
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one (and the platform has not asked us to wait)."""
        if now < self.blocked_until:
            return False
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def available_at(self, now: float) -> float:
        """When the next token will be there."""
        if now < self.blocked_until:
            return self.blocked_until
        self._refill(now)
        if self.tokens >= 1.0:
            return now
        return now + (1.0 - self.tokens) / self.rate

    def block(self, until: float) -> None:
        """The platform said Retry-After: send nothing more before `until`."""
        self.blocked_until = max(self.blocked_until, until)
        self.tokens = 0.0


class Buckets:
    """One bucket per destination, with the rate of its platform."""

    def __init__(self, rates: dict[str, tuple[float, int]]) -> None:
        self._rates = rates
        self._buckets: dict[str, TokenBucket] = {}

    def rate(self, platform: str) -> tuple[float, int]:
        return self._rates.get(platform, (1.0, 5))

    def get(self, destination: str) -> TokenBucket:
        bucket = self._buckets.get(destination)
        if bucket is None:
            rate, burst = self.rate(destination.partition(":")[0])
            bucket = self._buckets[destination] = TokenBucket(rate, burst)
        return bucket
