"""The paging port: how the escalation engine sends a page by SMS, voice call or e-mail
through a provider (Twilio, Aliyun, Tencent Cloud, SMTP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Page:
    """One page to one person on one channel (SMS, voice or e-mail), already worded in their
    language. `key` is the page's idempotency key, unique per (incident, step, person, channel,
    attempt); providers that accept a client reference get it."""

    channel: str
    """``sms``, ``voice`` or ``email``."""
    to: str
    """E.164 phone number for SMS and voice, an address for e-mail."""
    key: str
    subject: str
    """One line: ``[P0] #42 HighErrorRate on orders/prod``."""
    text: str
    """The message: short for SMS and voice (read aloud), longer for e-mail."""
    lang: str
    params: dict[str, str]
    """Named values for providers that send templates (Aliyun, Tencent Cloud): ``id``, ``tier``,
    ``title``, ``service``, ``environment``, ``url``."""
    ack_url: str = ""
    """A signed, expiring link that acknowledges the incident as this person."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the provider said: its message id and status (``sent``, ``queued``…)."""

    provider: str
    message_id: str
    status: str = "sent"


class Notifier(Protocol):
    """A paging channel's provider. `send` raises `RetryableDelivery` (with `retry_after` when
    the provider says) or `PermanentDelivery`."""

    channel: str
    provider: str

    async def send(self, page: Page) -> Receipt: ...

    async def aclose(self) -> None: ...
