"""The ports the core talks through. Adapters implement them; `bootstrap` wires them.

What a chat platform can do is declared as data (`ChatCapabilities`) that the core reads before
rendering, never discovered by trying.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.model import Card, Destination


@dataclass(frozen=True, slots=True)
class ChatCapabilities:
    buttons: bool = True
    """Buttons call back to Tocsin. When False, buttons become signed action links."""
    update_in_place: bool = True
    direct_messages: bool = True
    rate_per_second: float = 1.0
    burst: int = 5


@dataclass(frozen=True, slots=True)
class PostedRef:
    """Where a posted message lives on its platform, enough to update it in place."""

    data: dict[str, Any]


class ChatPlatform(Protocol):
    """One chat platform. Methods raise `RetryableDelivery` / `PermanentDelivery` on failure."""

    name: str
    capabilities: ChatCapabilities

    async def post_card(self, dest: Destination, card: Card, *, lang: str) -> PostedRef: ...

    async def update_card(
        self, dest: Destination, ref: PostedRef, card: Card, *, lang: str
    ) -> PostedRef: ...

    async def post_text(
        self, dest: Destination, text: str, *, reply_to: PostedRef | None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class RollbackTicket:
    """What the deploy service said about a requested rollback, told to the user as is."""

    accepted: bool
    message: str
    run_id: str = ""
    unavailable: bool = False
    """True when no deploy backend exists to run it: the user is told so in their language."""


class DeployService(Protocol):
    """The hand-off from a card's Rollback button to whatever runs deploys, inside the press's
    transaction; the run's card goes to `destinations`."""

    async def request_rollback(
        self,
        conn: AsyncConnection,
        *,
        service: str,
        environment: str,
        requested_by: str,
        reason: str,
        destinations: Sequence[str],
        incident_id: int | None,
        now: datetime,
    ) -> RollbackTicket: ...


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
