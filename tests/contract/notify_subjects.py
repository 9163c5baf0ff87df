"""Every paging provider, per channel, built by `adapters.notify.create` as its own tests build
it, against its fake on 127.0.0.1, with what the contract needs from the fake: how many pages it
took, an answer that says "slow down" or "try later", a section with wrong credentials, and a
section pointing where nothing listens.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fake_aliyun import FakeAliyun
from fake_smtp import PASSWORD, USER, FakeSmtp
from fake_tencent import FakeTencent
from fake_twilio import FakeTwilio
from notify_support import aliyun_sms, aliyun_voice, page, tencent_sms, tencent_voice, twilio

from adapters.notify import create
from adapters.notify.memory import MemoryNotifier
from bot.clock import FakeClock
from bot.ports import Notifier, Page

EMAIL_TO = "alice@example.com"


@dataclass
class PagerSubject:
    provider: str
    make: Callable[..., Notifier]
    """``make(**section overrides)``: the channel's notifier; closed when the test ends."""
    page: Page
    delivered: Callable[[], int]
    """How many pages the provider has taken."""
    throttle: Callable[[], None]
    """The provider's next answer is a rate limit or a server error."""
    wrong_credentials: dict[str, Any]
    unreachable: dict[str, Any]


def nowhere() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def built(
    channel: str, section: Callable[..., dict[str, Any]], server: Any
) -> AsyncIterator[Callable[..., Notifier]]:
    """Notifiers for `channel` from `section(**overrides)`, with `server` running."""
    made: list[Notifier] = []
    clock = FakeClock()

    def make(**overrides: Any) -> Notifier:
        made.append(create({channel: section(**overrides)}, clock=clock)[channel][0].notifier)
        return made[-1]

    await server.start()
    try:
        yield make
    finally:
        for notifier in made:
            await notifier.aclose()
        await server.close()


@asynccontextmanager
async def twilio_subject(channel: str) -> AsyncIterator[PagerSubject]:
    api = FakeTwilio()
    resource = "Messages" if channel == "sms" else "Calls"
    async with built(channel, lambda **o: {**twilio(api.base_url), **o}, api) as make:
        yield PagerSubject(
            "twilio",
            make,
            page(channel),
            lambda: len(api.sent),
            lambda: api.fail(resource, status=429, code=20429, retry_after=5),
            {"auth_token": "wrong-token-0123456789"},
            {"base_url": nowhere()},
        )


@asynccontextmanager
async def aliyun_subject(channel: str) -> AsyncIterator[PagerSubject]:
    api = FakeAliyun()
    section = aliyun_sms if channel == "sms" else aliyun_voice
    action = "SendSms" if channel == "sms" else "SingleCallByTts"
    async with built(channel, lambda **o: {**section(api.base_url), **o}, api) as make:
        yield PagerSubject(
            "aliyun",
            make,
            page(channel),
            lambda: len(api.sent),
            lambda: api.fail(action, "Throttling.User", status=400, retry_after=7),
            {"access_key_secret": "not-the-secret-0123"},
            {"base_url": nowhere()},
        )


@asynccontextmanager
async def tencent_subject(channel: str) -> AsyncIterator[PagerSubject]:
    api = FakeTencent()
    section = tencent_sms if channel == "sms" else tencent_voice
    action = "SendSms" if channel == "sms" else "SendTtsVoice"
    async with built(channel, lambda **o: {**section(api.base_url), **o}, api) as make:
        yield PagerSubject(
            "tencent",
            make,
            page(channel),
            lambda: len(api.sent),
            lambda: api.fail(action, status=503),
            {"secret_key": "not-the-key-0123456789"},
            {"base_url": nowhere()},
        )


@asynccontextmanager
async def email_subject() -> AsyncIterator[PagerSubject]:
    smtp = FakeSmtp()

    def section(**overrides: Any) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "username": USER,
            "password": PASSWORD,
            "sender": "Tocsin <tocsin@example.com>",
            "timeout": "5s",
            **overrides,
        }

    def throttle() -> None:
        smtp.refuse[EMAIL_TO] = "451 4.7.1 Too many messages, slow down"

    async with built("email", section, smtp) as make:
        yield PagerSubject(
            "smtp",
            make,
            page("email", to=EMAIL_TO),
            lambda: len(smtp.received),
            throttle,
            {"password": "not-the-password"},
            {"port": closed_port()},
        )


@asynccontextmanager
async def memory_subject() -> AsyncIterator[PagerSubject]:
    """The in-memory fake plays the provider itself: its scripted failures stand for answers."""
    made: list[MemoryNotifier] = []

    def make(**overrides: Any) -> Notifier:
        made.append(MemoryNotifier("sms"))
        if overrides.get("wrong"):
            made[-1].fail_next(permanent=True)
        if overrides.get("unreachable"):
            made[-1].fail_next()
        return made[-1]

    def throttle() -> None:
        for notifier in made:
            notifier.fail_next(retry_after=5)

    yield PagerSubject(
        "memory",
        make,
        page("sms"),
        lambda: sum(len(n.sent) for n in made),
        throttle,
        {"wrong": True},
        {"unreachable": True},
    )


SUBJECTS: dict[str, Callable[[], Any]] = {
    "twilio-sms": lambda: twilio_subject("sms"),
    "twilio-voice": lambda: twilio_subject("voice"),
    "aliyun-sms": lambda: aliyun_subject("sms"),
    "aliyun-voice": lambda: aliyun_subject("voice"),
    "tencent-sms": lambda: tencent_subject("sms"),
    "tencent-voice": lambda: tencent_subject("voice"),
    "email": email_subject,
    "memory": memory_subject,
}
