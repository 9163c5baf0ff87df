"""Database outages: which errors count, the tracker's two log lines, and the 503 answers.

The outages here are real: asyncpg connecting to a port nobody listens on, and a SQLite file
whose folder is moved away (and back) under a running app.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from structlog.testing import capture_logs

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.errors import DatabaseUnavailable
from bot.metrics import Metrics
from bot.store.db import Database
from bot.store.outage import RETRY_MAX, RETRY_MIN, Outage, classify
from bot.store.tables import alerts
from bot.web.unavailable import DatabaseGuard
from tests.support import TOKEN, RecordingPlatform, make_settings, migrated
from tests.unit.test_web import AM_BODY, bearer


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def failure(db: Database, sql: str = "SELECT 1") -> Exception:
    """What running `sql` on `db` raises."""
    try:
        async with db.begin() as conn:
            await conn.execute(text(sql))
    except Exception as exc:
        return exc
    raise AssertionError(f"{sql!r} did not fail")


async def sqlite_threads_done() -> None:
    """aiosqlite ends a connection that failed to open on its own thread, after the caller has
    the error; wait for that (bounded), so it never reports to an event loop already closed."""
    for _ in range(500):
        if not any("_connection_worker_thread" in t.name for t in threading.enumerate()):
            return
        await asyncio.sleep(0.01)


# -- which errors mean "the database is unavailable" --------------------------------------------


async def test_a_refused_connection_is_an_outage() -> None:
    db = Database(f"postgresql+asyncpg://tocsin@127.0.0.1:{closed_port()}/tocsin")
    try:
        error = classify(await failure(db))
    finally:
        await db.dispose()
    assert isinstance(error, DatabaseUnavailable) and error.status_code == 503 and error.retryable
    assert str(error).startswith("ConnectionRefusedError: ")
    assert "\n" not in str(error)


async def test_a_sqlite_file_out_of_reach_is_an_outage(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 't.db'}")
    try:
        error = classify(await failure(db))
    finally:
        await db.dispose()
        await sqlite_threads_done()
    assert str(error) == "OperationalError: unable to open database file"


async def test_other_database_errors_are_not_outages(tmp_path: Path) -> None:
    async with migrated(f"sqlite+aiosqlite:///{tmp_path / 't.db'}") as db:
        missing_table = await failure(db, "SELECT * FROM no_such_table")
        async with db.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        duplicate = await failure(db, "INSERT INTO t VALUES (1)")
    assert isinstance(duplicate, IntegrityError)
    assert classify(missing_table) is None and classify(duplicate) is None


@pytest.mark.parametrize(
    "orig",
    [
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_server_going_away_is_an_outage(orig: Exception) -> None:
    wrapped = DBAPIError("SELECT 1", None, orig)
    error = classify(wrapped)
    assert error is not None and str(error).startswith(f"{type(orig).__name__}: ")


@pytest.mark.parametrize(
    "orig",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.StringDataRightTruncationError("value too long"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_server_refusing_a_statement_is_not_an_outage(orig: Exception) -> None:
    assert classify(DBAPIError("INSERT", None, orig)) is None


def test_an_invalidated_connection_and_a_pool_timeout_are_outages() -> None:
    dropped = DBAPIError("SELECT 1", None, Exception("gone"), connection_invalidated=True)
    assert classify(dropped) is not None
    assert classify(PoolTimeout("QueuePool limit of size 10 overflow 10 reached")) is not None


def test_errors_that_did_not_come_from_the_database_are_not_outages() -> None:
    try:
        raise ConnectionRefusedError("a chat platform refused")
    except OSError as exc:
        assert classify(exc) is None
    assert classify(ValueError("bad input")) is None


# -- the tracker -------------------------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def down(
    why: str = "ConnectionRefusedError: [Errno 111] Connect call failed",
) -> DatabaseUnavailable:
    return DatabaseUnavailable(why)


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends() -> None:
    clock = Ticks()
    outage = Outage(clock)
    with capture_logs() as logs:
        outage.skipped(down(), what="engine pass acks")
        for _ in range(50):
            clock.now += 0.1
            outage.refused(down("ConnectionDoesNotExistError: closed"), what="alerts from am")
            outage.skipped(down(), what="engine pass cards")
        assert outage.down
        clock.now += 3.0
        outage.succeeded()
        outage.succeeded()
    assert [(e["log_level"], e["event"]) for e in logs] == [
        ("warning", "database unavailable"),
        ("info", "database available again"),
    ]
    start, end = logs
    assert start["reason"].startswith("ConnectionRefusedError: ")
    assert start["first_failure"] == "engine pass acks" and "exc_info" not in start
    assert end["outage_seconds"] == 8.0
    assert (end["requests_refused"], end["passes_skipped"]) == (50, 51)
    assert not outage.down


def test_a_second_outage_counts_afresh() -> None:
    clock = Ticks()
    outage = Outage(clock)
    outage.refused(down(), what="a")
    outage.succeeded()
    with capture_logs() as logs:
        clock.now += 60
        outage.refused(down(), what="b")
        clock.now += 2
        outage.succeeded()
    assert logs[1]["outage_seconds"] == 2.0 and logs[1]["requests_refused"] == 1


def test_retry_after_grows_with_the_outage_within_bounds() -> None:
    clock = Ticks()
    outage = Outage(clock)
    assert outage.retry_after() == RETRY_MIN
    assert outage.refused(down(), what="a") == RETRY_MIN
    clock.now += 30
    assert outage.refused(down(), what="a") == 15
    clock.now += 600
    assert outage.refused(down(), what="a") == RETRY_MAX


async def test_a_statement_that_succeeds_ends_the_outage(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    try:
        db.outage.refused(down(), what="a")
        with capture_logs() as logs:
            async with db.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await db.dispose()
    assert not db.outage.down
    assert [e["event"] for e in logs] == ["database available again"]


# -- the HTTP edge, with the SQLite file moved away under the running app ----------------------


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Tocsin]:
    (tmp_path / "data").mkdir()
    async with migrated(f"sqlite+aiosqlite:///{tmp_path / 'data' / 't.db'}") as db:
        yield bootstrap(
            make_settings(), clock=FakeClock(), platforms={"fake": RecordingPlatform()}, database=db
        )
    await sqlite_threads_done()


async def take_database_away(app: Tocsin, tmp_path: Path) -> None:
    (tmp_path / "data").rename(tmp_path / "away")
    await app.services.db.engine.dispose()  # open connections would still reach the file


def alert(n: int) -> dict[str, Any]:
    [first] = AM_BODY["alerts"]
    labels = {**first["labels"], "instance": f"i-{n}"}
    return {**AM_BODY, "alerts": [{**first, "labels": labels, "fingerprint": f"f{n:015d}"}]}


def sample(app: Tocsin, name: str, **labels: str) -> float | None:
    return app.services.metrics.registry.get_sample_value(name, labels)


async def fingerprints(app: Tocsin) -> set[str]:
    async with app.services.db.connect() as conn:
        return set((await conn.execute(select(alerts.c.fingerprint))).scalars())


async def test_alerts_are_refused_with_503_while_the_database_is_away(
    app: Tocsin, tmp_path: Path
) -> None:
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as http:
        path = "/api/v1/alerts/alertmanager"
        assert (await http.post(path, json=alert(1), headers=bearer(TOKEN))).status_code == 200
        await take_database_away(app, tmp_path)
        with capture_logs() as logs:
            refused = [await http.post(path, json=alert(n), headers=bearer()) for n in (2, 3)]
            ready = await http.get("/readyz")
            assert sample(app, "tocsin_database_up") == 0
            (tmp_path / "away").rename(tmp_path / "data")
            again = await http.post(path, json=alert(2), headers=bearer())
    for response in refused:
        assert response.status_code == 503
        assert response.json() == {"error": "database unavailable, retry later"}
        assert response.headers["retry-after"] == str(RETRY_MIN)
    assert ready.status_code == 503 and "unable to open database file" in ready.text
    assert again.status_code == 200
    assert await fingerprints(app) == {alert(n)["alerts"][0]["fingerprint"] for n in (1, 2)}
    assert [e["event"] for e in logs] == ["database unavailable", "database available again"]
    assert logs[1]["requests_refused"] == 2
    assert sample(app, "tocsin_requests_refused_total", reason="database") == 2
    assert sample(app, "tocsin_database_up") == 1


async def test_the_guard_answers_503_for_any_route_the_outage_reaches(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 't.db'}")
    metrics = Metrics()

    async def reads(_request: Request) -> Response:
        async with db.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return JSONResponse({})

    async def breaks(_request: Request) -> Response:
        raise ValueError("a bug")

    guarded = Starlette(
        routes=[Route("/reads", reads), Route("/breaks", breaks)],
        middleware=[Middleware(DatabaseGuard, outage=db.outage, metrics=metrics)],
    )
    transport = httpx.ASGITransport(app=guarded)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            with capture_logs() as logs:
                first, second = [await http.get("/reads") for _ in range(2)]
            with pytest.raises(ValueError, match="a bug"):
                await http.get("/breaks")
    finally:
        await db.dispose()
        await sqlite_threads_done()
    assert (first.status_code, second.status_code) == (503, 503)
    assert int(second.headers["retry-after"]) >= RETRY_MIN
    assert [e["event"] for e in logs] == ["database unavailable"]
    assert logs[0]["first_failure"] == "GET /reads"
    assert db.outage.refused_requests == 2


async def test_engine_passes_are_skipped_quietly_while_the_database_is_away(
    app: Tocsin, tmp_path: Path
) -> None:
    await take_database_away(app, tmp_path)
    with capture_logs() as logs:
        await app.engine.tick()
        await app.engine.tick()
        skipped = app.services.db.outage.skipped_passes
        (tmp_path / "away").rename(tmp_path / "data")
        await app.engine.tick()
    assert skipped >= 2 * 9  # every pass of both rounds
    assert [(e["log_level"], e["event"]) for e in logs] == [
        ("warning", "database unavailable"),
        ("info", "database available again"),
    ]
    assert logs[1]["passes_skipped"] == skipped and logs[1]["requests_refused"] == 0
