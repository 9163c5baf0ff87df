"""Fixtures for the paging provider tests: the fake provider servers and an SMTP server, each on
a free 127.0.0.1 port, and notifiers made by `adapters.notify.create` that point at them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fake_aliyun import FakeAliyun
from fake_smtp import FakeSmtp
from fake_tencent import FakeTencent
from fake_twilio import FakeTwilio

from adapters.notify import create
from bot.clock import FakeClock
from bot.ports import Notifier


@pytest.fixture
async def aliyun_api() -> AsyncIterator[FakeAliyun]:
    api = FakeAliyun()
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def tencent_api() -> AsyncIterator[FakeTencent]:
    api = FakeTencent()
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def twilio_api() -> AsyncIterator[FakeTwilio]:
    api = FakeTwilio()
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def smtp() -> AsyncIterator[FakeSmtp]:
    server = FakeSmtp()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., Notifier]]:
    """``make(channel, section)``: the notifier `create` builds for one channel; closed after."""
    made: list[Notifier] = []
    clock = FakeClock()

    def build(channel: str, section: dict[str, Any]) -> Notifier:
        notifier = create({channel: section}, clock=clock)[channel][0].notifier
        made.append(notifier)
        return notifier

    yield build
    for notifier in made:
        await notifier.aclose()
