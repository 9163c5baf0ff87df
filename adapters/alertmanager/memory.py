"""An in-memory Alertmanager silence API (`bot.ports.silences.SilenceAPI`) for tests and demos.

It keeps silences as Alertmanager would (an id each, expired ones still listed), can be told
to fail the next calls (unreachable: `RetryableDelivery`; refused: `PermanentDelivery`), and
lets a test add a silence "made in the UI" or end one, as a person there would.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery
from bot.ports.silences import SilenceMatcher, UpstreamSilence


class MemorySilences:
    def __init__(self, source: str = "am", clock: Callable[[], datetime] | None = None) -> None:
        self.source = source
        self.clock = clock or (lambda: datetime.now(UTC))
        self.held: dict[str, UpstreamSilence] = {}
        self.calls: list[str] = []
        """Each call as made: ``create``, ``expire <id>``, ``silences``."""
        self.fail_next: list[DeliveryError] = []
        self.fail_after_create = False
        """Make the next create land, then answer as if the connection broke."""
        self._ids = itertools.count(1)

    def unreachable(self, times: int = 1, retry_after: float | None = None) -> None:
        self.fail_next += [
            RetryableDelivery(f"{self.source}: connection refused", retry_after)
            for _ in range(times)
        ]

    def refuse(self, reason: str = "silence invalid: bad matchers") -> None:
        self.fail_next.append(PermanentDelivery(f"{self.source}: {reason}"))

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    async def create(
        self,
        matchers: tuple[SilenceMatcher, ...],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        self.calls.append("create")
        self._maybe_fail()
        silence_id = self.add(matchers, ends_at, created_by, comment, starts_at=starts_at)
        if self.fail_after_create:
            self.fail_after_create = False
            raise RetryableDelivery(f"{self.source}: connection reset after the request")
        return silence_id

    async def expire(self, silence_id: str) -> None:
        self.calls.append(f"expire {silence_id}")
        self._maybe_fail()
        self.end(silence_id)

    async def silences(self) -> list[UpstreamSilence]:
        self.calls.append("silences")
        self._maybe_fail()
        now = self.clock()
        return [replace(s, state="expired") if s.ends_at <= now else s for s in self.held.values()]

    async def aclose(self) -> None:
        return None

    # -- what a person in Alertmanager does, and what tests look at -----------------------------

    def add(
        self,
        matchers: tuple[SilenceMatcher, ...],
        ends_at: datetime,
        created_by: str = "bob",
        comment: str = "",
        *,
        starts_at: datetime | None = None,
    ) -> str:
        silence_id = f"{next(self._ids):08x}-5ce1-4d2e-9a7b-{self.source[:4]:0>12}"
        now = self.clock()
        self.held[silence_id] = UpstreamSilence(
            silence_id,
            tuple(matchers),
            max(starts_at or now, now),
            ends_at,
            created_by,
            comment,
            "active",
        )
        return silence_id

    def end(self, silence_id: str) -> None:
        """Expire a silence now (unknown ids are no error, as in Alertmanager)."""
        held = self.held.get(silence_id)
        if held is not None and held.state != "expired":
            self.held[silence_id] = replace(held, state="expired", ends_at=self.clock())

    def active(self) -> list[UpstreamSilence]:
        now = self.clock()
        return [s for s in self.held.values() if s.state == "active" and s.ends_at > now]
