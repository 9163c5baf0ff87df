"""Fixtures for the web console tests (helpers live in `console_support`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import ConsoleApp, build_console

from bot.clock import FakeClock
from bot.store.db import Database
from bot.store.tables import metadata


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'console.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
def make_console(tmp_path: Path) -> Iterator[Callable[..., ConsoleApp]]:
    """``make_console(auth="token")`` builds a console app on a fresh database."""
    count = 0

    def make(**options: Any) -> ConsoleApp:
        nonlocal count
        count += 1
        folder = tmp_path / f"console{count}"
        folder.mkdir()
        return build_console(folder, **options)

    yield make
