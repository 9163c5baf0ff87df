"""Fixtures for the Feishu adapter tests: the fake Feishu (Open API and long connection) on
127.0.0.1, and Tocsin wired by the real `bootstrap` with a ``feishu:`` section pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fake_feishu import FakeLongConnection, FakeOpenApi
from feishu_support import ALICE, BOB, BOB_UNION, CAROL, new_app_id, settings

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.store.db import Database


@pytest.fixture
async def ws_server() -> AsyncIterator[FakeLongConnection]:
    server = FakeLongConnection()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def open_api(ws_server: FakeLongConnection) -> AsyncIterator[FakeOpenApi]:
    api = FakeOpenApi(
        app_id=new_app_id(), ws_url=ws_server.url, people={ALICE, BOB, BOB_UNION, CAROL}
    )
    await api.start()
    yield api
    await api.close()


@pytest.fixture
def make_tocsin(db: Database, clock: FakeClock, open_api: FakeOpenApi) -> Callable[..., Tocsin]:
    """Tocsin as `bootstrap` wires it from settings (no `platforms=`: the adapter is real)."""

    def make(rollbacks: Any = None, **feishu: Any) -> Tocsin:
        tocsin = bootstrap(
            settings(open_api, **feishu), clock=clock, database=db, rollbacks=rollbacks
        )
        return tocsin

    return make
