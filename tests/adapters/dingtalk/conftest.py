"""Fixtures for the DingTalk adapter tests: the fake DingTalk (OpenAPI, old API, Stream gateway)
on 127.0.0.1, and Tocsin wired by the real `bootstrap` with a ``dingtalk:`` section on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from dingtalk_support import adapter_of, settings
from fake_dingtalk import FakeDingTalkApi, FakeGateway

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.store.db import Database


@pytest.fixture
async def dingtalk(clock: FakeClock) -> AsyncIterator[FakeDingTalkApi]:
    api = FakeDingTalkApi(now=clock.now)
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def gateway(dingtalk: FakeDingTalkApi) -> AsyncIterator[FakeGateway]:
    server = FakeGateway(dingtalk)
    await server.start()
    dingtalk.ws_url = server.url
    yield server
    await server.close()


@pytest.fixture
async def make_tocsin(
    db: Database, clock: FakeClock, dingtalk: FakeDingTalkApi
) -> AsyncIterator[Callable[..., Tocsin]]:
    """Tocsin as `bootstrap` wires it from settings (no `platforms=`: the adapter is real).
    Its DingTalk adapter is closed afterwards."""
    made: list[Tocsin] = []

    def make(**kwargs: Any) -> Tocsin:
        tocsin = bootstrap(settings(dingtalk, **kwargs), clock=clock, database=db)
        made.append(tocsin)
        return tocsin

    yield make
    for tocsin in made:
        await adapter_of(tocsin).aclose()
