"""The console speaks the signed-in person's language (their /lang, their configured language,
the chat's, then Tocsin's default), tells the page when it changes, shows message times in their
zone, and badges cards stored without a badge (never a raw status key)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from console_support import ConsoleApp, TestClient, WebSocketTestSession

from bot.model import Card, Destination, Tier
from bot.prefs import chat_scope, set_language, user_scope

Event = dict[str, Any]
OPS = Destination("console", "ops")


@pytest.fixture
def demo(make_console: Callable[..., ConsoleApp]) -> Iterator[tuple[ConsoleApp, TestClient]]:
    console = make_console(auth="demo")
    with TestClient(console.app) as client:
        yield console, client


def hello(ws: WebSocketTestSession, user: str) -> Event:
    ws.send_json({"type": "hello", "user": user})
    event: Event = ws.receive_json()
    assert event["type"] == "history", event
    return event


def until(ws: WebSocketTestSession, kind: str) -> list[Event]:
    events: list[Event] = []
    while not events or events[-1]["type"] != kind:
        events.append(ws.receive_json())
    return events


def choose_language(console: ConsoleApp, client: TestClient, scope: str, lang: str) -> None:
    async def store() -> None:
        async with console.db.begin() as conn:
            await set_language(console.db, conn, scope, lang)

    assert client.portal is not None
    client.portal.call(store)


def test_the_reader_is_the_configured_default_until_someone_chooses(
    make_console: Callable[..., ConsoleApp],
) -> None:
    console = make_console(auth="demo", language="zh")
    with TestClient(console.app) as client, client.websocket_connect("/console/ws") as ws:
        user = hello(ws, "alice")["user"]
        assert (user["language"], user["timezone"]) == ("zh", "UTC")
        assert client.get("/console/api/config").json()["language"] == "zh"


def test_a_stored_choice_wins_over_the_chat_and_the_default(
    demo: tuple[ConsoleApp, TestClient],
) -> None:
    console, client = demo
    choose_language(console, client, chat_scope("console:ops"), "zh")
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        assert hello(ws, "alice")["user"]["language"] == "zh", "the chat's choice"
    choose_language(console, client, user_scope("alice"), "en")
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        assert hello(ws, "alice")["user"]["language"] == "en", "her own choice"


def test_lang_and_tz_commands_tell_the_page(demo: tuple[ConsoleApp, TestClient]) -> None:
    _console, client = demo
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        assert hello(ws, "bob")["user"]["language"] == "en"
        ws.send_json({"type": "command", "text": "/lang zh", "request_id": "1"})
        events = until(ws, "done")
        assert {"type": "reader", "language": "zh", "timezone": "UTC"} in events
        ws.send_json({"type": "command", "text": "/tz Asia/Shanghai", "request_id": "2"})
        events = until(ws, "done")
        assert {"type": "reader", "language": "zh", "timezone": "Asia/Shanghai"} in events
        ws.send_json({"type": "command", "text": "/status", "request_id": "3"})
        assert [e for e in until(ws, "done") if e["type"] == "reader"] == []


def test_stored_cards_without_badge_get_one_in_the_readers_language(
    demo: tuple[ConsoleApp, TestClient],
) -> None:
    console, client = demo
    old = Card(ref="incident:1", title="HighErrorRate", tier=Tier.P1, status="acknowledged")
    odd = Card(ref="x:1", title="Odd", tier=None, status="paging")

    async def store_old_rows() -> None:
        for card in (old, odd):
            await console.platform.store.add(
                chat="ops",
                kind="card",
                author="Tocsin",
                now=console.clock.now(),
                card=card.to_json(),
            )

    assert client.portal is not None
    client.portal.call(store_old_rows)
    choose_language(console, client, user_scope("alice"), "zh")
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        first, second = [m["card"] for m in hello(ws, "alice")["messages"]]
    assert first["badge"] == {"word": "已认领", "tone": "working"}
    assert second["badge"] is None, "no badge rather than the raw key"
    transcript = client.get("/console/api/transcript?chat=ops&user=alice").json()
    assert transcript[0]["card"]["badge"] == {"word": "已认领", "tone": "working"}


def test_a_card_posted_without_badge_is_stored_with_one(
    demo: tuple[ConsoleApp, TestClient],
) -> None:
    console, client = demo
    bare = Card(ref="incident:2", title="DiskFull", tier=Tier.P2, status="resolved")
    assert client.portal is not None
    message_id = client.portal.call(console.inbound.post, OPS, bare)
    stored = client.portal.call(console.platform.message, message_id)
    assert stored is not None and stored.card is not None
    assert stored.card["badge"] == {"word": "Resolved", "tone": "good"}
