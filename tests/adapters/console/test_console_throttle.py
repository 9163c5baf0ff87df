"""Console sign-in throttling through the real WebSocket and HTTP routes, on SQLite and on two
app instances sharing one PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from console_support import (
    TOKENS,
    USERS,
    ConsoleApp,
    RecordingInbound,
    TestClient,
    build_console,
)
from sqlalchemy import select
from starlette.testclient import WebSocketDenialResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from adapters.chat.console import ConsoleHub, ConsolePlatform, console_routes
from adapters.chat.console.conversation import CloseCode
from bot.authz.throttle import (
    FIRST_BLOCK,
    FREE_FAILURES,
    MAX_BLOCK,
    after_failure,
    block_for,
)
from bot.clock import FakeClock
from bot.errors import ConfigError
from bot.metrics import Metrics
from bot.settings.schema import Console
from bot.store.db import Database
from bot.store.tables import audit_log
from tests.support import migrated, postgres_database

WRONG = "x" * 40


class ClientAddress:
    """Test-only ASGI wrapper: the ``x-test-address`` header becomes the client's address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            for name, value in scope.get("headers", []):
                if name == b"x-test-address":
                    scope = {**scope, "client": (value.decode(), 50000)}
        await self.app(scope, receive, send)


def sign_in(client: TestClient, address: str, **hello: str) -> tuple[str, Any]:
    """One hello over the socket: ("ok", history), ("closed", (code, error)) or ("http", resp)."""
    try:
        with client.websocket_connect(
            "/console/ws?chat=ops", headers={"x-test-address": address}
        ) as ws:
            ws.send_json({"type": "hello", **hello})
            first = ws.receive_json()
            if first["type"] == "history":
                return "ok", first
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            return "closed", (closed.value.code, first)
    except WebSocketDenialResponse as denied:
        return "http", denied


def metric(metrics: Metrics, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "tocsin_auth_failures_total", {"surface": "console", "reason": reason}
    )
    return value or 0.0


async def denied_sign_ins(db: Database) -> list[Any]:
    query = select(audit_log).where(audit_log.c.action == "console:sign-in")
    async with db.connect() as conn:
        return list(await conn.execute(query.order_by(audit_log.c.id)))


def test_the_twentieth_wrong_token_in_a_minute_is_throttled(
    make_console: Callable[..., ConsoleApp],
) -> None:
    metrics = Metrics()
    console = make_console(auth="token", metrics=metrics)
    with TestClient(ClientAddress(console.app)) as client:
        outcomes = [sign_in(client, "203.0.113.7", token=WRONG) for _ in range(20)]
        kinds = [kind for kind, _ in outcomes]
        assert kinds[: FREE_FAILURES + 1] == ["closed"] * (FREE_FAILURES + 1)
        assert all(o[1][0] == CloseCode.UNAUTHORIZED for o in outcomes[: FREE_FAILURES + 1])
        assert kinds[FREE_FAILURES + 1 :] == ["http"] * (20 - FREE_FAILURES - 1)
        twentieth = outcomes[-1][1]
        assert twentieth.status_code == 429
        assert int(twentieth.headers["retry-after"]) == FIRST_BLOCK.total_seconds()

        # The right token from the blocked address is refused too, before it is looked at ...
        kind, denied = sign_in(client, "203.0.113.7", token=TOKENS["bob"])
        assert (kind, denied.status_code) == ("http", 429)
        # ... and so is the transcript API from there, with Retry-After.
        answer = client.get(
            "/console/api/transcript?chat=ops",
            headers={"x-test-address": "203.0.113.7", "Authorization": f"Bearer {WRONG}"},
        )
        assert answer.status_code == 429
        assert int(answer.headers["retry-after"]) == FIRST_BLOCK.total_seconds()

        # A right token from another address still works.
        kind, history = sign_in(client, "198.51.100.2", token=TOKENS["bob"])
        assert kind == "ok"
        assert history["user"]["id"] == "bob"

        audited = client.portal.call(denied_sign_ins, console.db)
    assert len(audited) == FREE_FAILURES + 1
    assert {row.outcome for row in audited} == {"denied"}
    assert audited[0].detail == {
        "address": "203.0.113.7",
        "reason": "bad_token",
        "via": "websocket",
    }
    assert audited[-1].detail["blocked_for"] == FIRST_BLOCK.total_seconds()
    assert WRONG not in str([row.detail for row in audited])
    assert metric(metrics, "bad_token") == FREE_FAILURES + 1
    assert metric(metrics, "throttled") == 20 - FREE_FAILURES - 1 + 2


def test_the_block_doubles_once_it_ends_and_a_quiet_hour_forgives(
    make_console: Callable[..., ConsoleApp],
) -> None:
    console = make_console(auth="token")
    with TestClient(ClientAddress(console.app)) as client:
        for _ in range(FREE_FAILURES + 1):
            assert sign_in(client, "203.0.113.9", token=WRONG)[0] == "closed"
        console.clock.advance(FIRST_BLOCK)
        assert sign_in(client, "203.0.113.9", token=WRONG)[0] == "closed"
        kind, denied = sign_in(client, "203.0.113.9", token=WRONG)
        assert (kind, int(denied.headers["retry-after"])) == ("http", 2 * FIRST_BLOCK.seconds)
        console.clock.advance(timedelta(hours=2))
        assert sign_in(client, "203.0.113.9", token=TOKENS["alice"])[0] == "ok"


def test_failures_for_a_claimed_user_throttle_that_user_from_any_address(
    make_console: Callable[..., ConsoleApp],
) -> None:
    console = make_console(auth="token")
    with TestClient(ClientAddress(console.app)) as client:
        for n in range(FREE_FAILURES + 1):
            kind, _ = sign_in(client, f"192.0.2.{n}", user="alice", token=WRONG)
            assert kind == "closed"
        kind, (code, error) = sign_in(client, "192.0.2.200", user="alice", token=TOKENS["alice"])
        assert (kind, code) == ("closed", CloseCode.THROTTLED)
        assert error["retry_after"] == FIRST_BLOCK.total_seconds()
        # Bob, who was not named, signs in from there.
        assert sign_in(client, "192.0.2.200", token=TOKENS["bob"])[0] == "ok"


def test_demo_mode_is_not_throttled(make_console: Callable[..., ConsoleApp]) -> None:
    console = make_console(auth="demo")
    with TestClient(ClientAddress(console.app)) as client:
        for _ in range(FREE_FAILURES + 3):
            assert sign_in(client, "203.0.113.7", user="nobody")[0] == "closed"
        assert sign_in(client, "203.0.113.7", user="alice")[0] == "ok"


@pytest.mark.parametrize("token", ["", "short-token", "x" * 31])
def test_tokens_shorter_than_32_characters_are_refused_at_start_up(
    tmp_path: Path, token: str
) -> None:
    settings = Console(auth="token", tokens={"alice": token, "bob": TOKENS["bob"]})
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    clock = FakeClock()
    console = ConsolePlatform(db, clock, ConsoleHub())
    with pytest.raises(ConfigError, match="alice"):
        console_routes(console, console.hub, RecordingInbound(), settings, USERS, clock)
    demo = Console(auth="demo", tokens={"alice": token})
    assert console_routes(console, console.hub, RecordingInbound(), demo, USERS, clock)


def test_back_off_doubles_up_to_fifteen_minutes() -> None:
    assert [block_for(n).total_seconds() for n in range(1, 8)] == [
        15,
        30,
        60,
        120,
        240,
        480,
        900,
    ]
    assert block_for(10_000) == MAX_BLOCK


def test_a_new_minute_gives_free_failures_again_only_to_an_unpenalised_key() -> None:
    now = FakeClock().now()

    class Row:
        window_start = now
        window_failures = FREE_FAILURES
        level = 0
        blocked_until = None
        last_failure_at = now

    later = now + timedelta(minutes=1)
    assert after_failure(Row, later)["blocked_until"] is None
    Row.level = 3
    assert after_failure(Row, later)["blocked_until"] == later + block_for(4)


@pytest.fixture
async def shared_postgres() -> AsyncIterator[str]:
    async with postgres_database() as url, migrated(url):
        yield url


@pytest.mark.postgres
def test_two_instances_on_one_postgres_share_the_throttle(
    shared_postgres: str, tmp_path: Path
) -> None:
    one = build_console(tmp_path, auth="token", url=shared_postgres)
    two = build_console(tmp_path, auth="token", url=shared_postgres)
    with TestClient(ClientAddress(one.app)) as a, TestClient(ClientAddress(two.app)) as b:
        for n in range(FREE_FAILURES + 1):
            client = a if n % 2 else b
            assert sign_in(client, "203.0.113.50", token=WRONG)[0] == "closed"
        for client in (a, b):
            kind, denied = sign_in(client, "203.0.113.50", token=TOKENS["alice"])
            assert (kind, denied.status_code) == ("http", 429)
        assert sign_in(b, "203.0.113.51", token=TOKENS["alice"])[0] == "ok"
        audited = a.portal.call(denied_sign_ins, one.db)
    assert len(audited) == FREE_FAILURES + 1
