"""Fixtures for the WeCom adapter tests: the fake WeCom API on 127.0.0.1, and Tocsin wired by
the real `bootstrap` with a ``wecom:`` section pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fake_wecom import FakeWeCom
from wecom_support import adapter_of, settings

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.store.db import Database


@pytest.fixture
async def wecom_api() -> AsyncIterator[FakeWeCom]:
    api = FakeWeCom()
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def make_tocsin(
    db: Database, clock: FakeClock, wecom_api: FakeWeCom
) -> AsyncIterator[Callable[..., Tocsin]]:
    """Tocsin as `bootstrap` wires it from settings (no `platforms=`: the WeCom adapter is real)."""
    made: list[Tocsin] = []

    def make(**kwargs: Any) -> Tocsin:
        tocsin = bootstrap(settings(wecom_api, **kwargs), clock=clock, database=db)
        made.append(tocsin)
        return tocsin

    yield make
    for tocsin in made:
        await adapter_of(tocsin).aclose()
