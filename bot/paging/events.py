"""`PhoneEvents`: what providers' callbacks hand to the core (the core implements it; each
provider's callback routes take it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.ports import Answer, DeliveryReport, PhoneReply


class PhoneEvents(Protocol):
    """Both methods store before they return: a callback is answered "OK" only once what it
    said is kept. They raise `bot.errors.DatabaseUnavailable` when it cannot be (the callback
    answers 503, and the provider's retry lands once the database is back)."""

    async def receipts(self, reports: Sequence[DeliveryReport]) -> int:
        """Record delivery reports; returns how many matched a known send (a report for a
        send not recorded yet is kept and applied once it is)."""
        ...

    async def reply(self, reply: PhoneReply) -> Answer:
        """Act on an SMS reply or a keypress as the person whose number it came from."""
        ...
