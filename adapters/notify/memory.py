"""An in-memory `Notifier` for the core's tests and the demo: it records what it was asked to
send, and can be told to fail the next sends, retryably or for good."""

from __future__ import annotations

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
    _failures: list[DeliveryError] = field(default_factory=list)

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

    async def send(self, page: Page) -> Receipt:
        self.attempts += 1
        if self._failures:
            raise self._failures.pop(0)
        self.sent.append(page)
        return Receipt(self.provider, f"{self.channel}-{len(self.sent)}")

    def to(self, address: str) -> list[Page]:
        """The pages sent to one number or address."""
        return [page for page in self.sent if page.to == address]

    async def aclose(self) -> None:
        self.closed = True
