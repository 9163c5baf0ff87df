"""Fixtures: a migrated database on SQLite and on PostgreSQL, a fake clock, a wired Tocsin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.store.db import Database
from tests.support import RecordingPlatform, make_settings, migrated, postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}"
        return
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    async with migrated(db_url) as database:
        yield database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def chat() -> RecordingPlatform:
    return RecordingPlatform()


@pytest.fixture
async def tocsin(db: Database, clock: FakeClock, chat: RecordingPlatform) -> AsyncIterator[Tocsin]:
    app = bootstrap(make_settings(), clock=clock, platforms={"fake": chat}, database=db)
    yield app
