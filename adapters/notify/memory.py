"""An in-memory `Notifier` for the core's tests and the demo: it records what it was asked to
send, and can be told to fail the next sends, retryably or for good, to refuse some numbers
for good, or to hang (a provider that never answers, for send timeouts)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery
from bot.ports import Page, Receipt


@dataclass
class MemoryNotifier:
    channel: str
    provider: str = "memory"
    sent: list[Page] = field(default_factory=list)
    """Pages sent successfully, in order."""
    attempts: int = 0
    """Every call to `send`, failed ones included."""
    closed: bool = False
    refused: set[str] = field(default_factory=set)
    """Numbers or addresses every send to fails for good (``PermanentDelivery``)."""
    hanging: bool = False
    """Sends take the page and never answer until `release` (they count in `attempts` only)."""
    _failures: list[DeliveryError] = field(default_factory=list)
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def fail_next(
        self, times: int = 1, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        """The next `times` sends raise `PermanentDelivery`, or `RetryableDelivery` with
        `retry_after`."""
        for _ in range(times):
            self._failures.append(
                PermanentDelivery(f"memory {self.channel}: scripted permanent failure")
                if permanent
                else RetryableDelivery(f"memory {self.channel}: scripted failure", retry_after)
            )

    def release(self) -> None:
        """Let hanging sends go on (they then fail: their caller has given up on them)."""
        self.hanging = False
        self._released.set()

    async def send(self, page: Page) -> Receipt:
        self.attempts += 1
        if self.hanging:
            await self._released.wait()
            raise RetryableDelivery(f"memory {self.channel}: released after hanging")
        if self._failures:
            raise self._failures.pop(0)
        if page.to in self.refused:
            raise PermanentDelivery(f"memory {self.channel}: {page.to} refused")
        self.sent.append(page)
        return Receipt(self.provider, f"{self.channel}-{len(self.sent)}")

    def to(self, address: str) -> list[Page]:
        """The pages sent to one number or address."""
        return [page for page in self.sent if page.to == address]

    async def aclose(self) -> None:
        self.closed = True
