"""Fixtures for the Slack adapter tests: the fake Slack (Web API and Socket Mode) on 127.0.0.1,
and Tocsin wired by the real `bootstrap` with a ``slack:`` section pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fake_slack import FakeSlackApi, FakeSocketMode
from slack_support import settings, slack_users

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.store.db import Database


@pytest.fixture
async def socket_server() -> AsyncIterator[FakeSocketMode]:
    server = FakeSocketMode()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def slack_api(socket_server: FakeSocketMode) -> AsyncIterator[FakeSlackApi]:
    api = FakeSlackApi(users=slack_users(), ws_url=socket_server.url)
    await api.start()
    yield api
    await api.close()


@pytest.fixture
def make_tocsin(db: Database, clock: FakeClock, slack_api: FakeSlackApi) -> Callable[..., Tocsin]:
    """Tocsin as `bootstrap` wires it from settings (no `platforms=`: the Slack adapter is real)."""

    def make(**slack: Any) -> Tocsin:
        tocsin = bootstrap(settings(slack_api, **slack), clock=clock, database=db)
        return tocsin

    return make
