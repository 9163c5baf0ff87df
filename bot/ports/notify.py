"""The paging port: how the escalation engine sends a page by SMS, voice call or e-mail
through a provider (Twilio, Aliyun, Tencent Cloud, SMTP), in each channel's failover order,
and what providers report back: delivery reports and people's replies (handed to the core's
`bot.paging.events.PhoneEvents`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol


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
    code: str = ""
    """The page's reply code (``KQD``): ``1KQD`` acknowledges this page's incident whatever
    came after it (also in `params` as ``code``)."""
    prompt: str = ""
    """How to answer from the phone, in the page's language, kept apart from `text`: the
    SMS's "Reply 1 to acknowledge…" (a provider that sends free text appends it; a template
    provider can show `params["code"]`), or what a call reads before taking a key."""


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


@dataclass(frozen=True, slots=True)
class Provider:
    """One provider in a channel's failover order (``pagers.sms: [aliyun, tencent, twilio]``).

    `name` is unique within its channel (the provider's kind unless the configuration names
    it) and is what receipts, callback paths and per-person choices refer to."""

    name: str
    notifier: Notifier
    confirm_within: timedelta | None = None
    """A send not confirmed delivered by then moves to the next provider (None: sent is
    enough)."""
    prefixes: tuple[str, ...] = ()
    """The numbers this provider takes (E.164 prefixes such as ``+86``); empty: any."""

    def takes(self, address: str) -> bool:
        return not self.prefixes or any(address.startswith(p) for p in self.prefixes)


DeliveryStatus = Literal["sent", "delivered", "failed", "undelivered", "no_answer", "busy"]
"""A send's state as providers report it, in Tocsin's words: ``sent`` (accepted, on its
way), ``delivered`` (on the phone, or the call answered), ``failed`` (the provider could not
send it), ``undelivered`` (the carrier gave up), ``no_answer`` and ``busy`` (a call)."""
FINAL: frozenset[str] = frozenset({"delivered", "failed", "undelivered", "no_answer", "busy"})


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A provider's word on one send: a status callback, a receipt push or a polled answer."""

    provider: str
    """The `Provider.name` that sent it."""
    message_id: str
    """The provider's id for the send (`Receipt.message_id`)."""
    status: DeliveryStatus
    at: datetime
    """When the provider says it happened (the time it arrived when it does not say)."""
    detail: str = ""
    """The provider's own status word or error code, for `/incident why` (``30008``…)."""


@dataclass(frozen=True, slots=True)
class PhoneReply:
    """A person answering a page from their phone: an SMS reply, or a key pressed in a call."""

    provider: str
    """The `Provider.name` whose callback carried it."""
    channel: Literal["sms", "voice"]
    number: str
    """The person's number, E.164 (``+8613800000000``)."""
    text: str
    """The SMS body, or the digits pressed."""
    message_id: str
    """The provider's id of the inbound message, or of the call (which maps it to its page)."""
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Answer:
    """What to say back to a `PhoneReply` (an SMS reply, or words read in the call), in the
    person's language; empty text: say nothing (an unknown number is not answered)."""

    text: str
    ok: bool
    lang: str = "en"


@dataclass(frozen=True, slots=True)
class Sent:
    """A send still waiting for its report, as a `ReceiptPoller` is asked about it."""

    message_id: str
    to: str
    """The number it went to, E.164."""
    sent_at: datetime


class ReceiptPoller(Protocol):
    """A notifier whose receipts are read by asking (Aliyun's query APIs) rather than pushed;
    `bot.paging` asks it for the sends still waiting for a report."""

    async def statuses(self, sends: Sequence[Sent]) -> list[DeliveryReport]:
        """Reports for the sends that have one by now (the others are left out). Raises
        `RetryableDelivery` when the provider cannot be asked now."""
        ...
