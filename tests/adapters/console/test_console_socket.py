"""The console's WebSocket protocol and JSON API, through starlette's TestClient."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import (
    TOKENS,
    USERS,
    ConsoleApp,
    TestClient,
    WebSocketTestSession,
    build_console,
    incident_card,
)
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from adapters.chat.console import console_routes
from adapters.chat.console.conversation import CloseCode, ConsoleContext, command_text, serve
from adapters.chat.console.identity import Directory
from bot.model import ActionKind, Destination, Sender, Tier
from bot.settings.schema import Console

Event = dict[str, Any]
OPS = Destination("console", "ops")


@pytest.fixture
def demo(make_console: Callable[..., ConsoleApp]) -> Iterator[tuple[ConsoleApp, TestClient]]:
    console = make_console(auth="demo")
    with TestClient(console.app) as client:
        yield console, client


@pytest.fixture
def token(make_console: Callable[..., ConsoleApp]) -> Iterator[tuple[ConsoleApp, TestClient]]:
    console = make_console(auth="token")
    with TestClient(console.app) as client:
        yield console, client


def until(ws: WebSocketTestSession, kind: str) -> list[Event]:
    """Events up to and including the first one of type `kind`."""
    events: list[Event] = []
    while not events or events[-1]["type"] != kind:
        events.append(ws.receive_json())
    return events


def messages(events: list[Event]) -> list[Event]:
    return [e["message"] for e in events if e["type"] in ("message", "update")]


def hello(ws: WebSocketTestSession, **who: str) -> Event:
    ws.send_json({"type": "hello", **who})
    event: Event = ws.receive_json()
    assert event["type"] == "history", event
    return event


def post_card(console: ConsoleApp, client: TestClient, **options: Any) -> int:
    """Post an incident card through the platform, in the app's own event loop."""
    assert client.portal is not None
    message_id: int = client.portal.call(console.inbound.post, OPS, incident_card(**options))
    return message_id


def test_hello_in_demo_mode_sends_the_history_and_who_you_are(
    demo: tuple[ConsoleApp, TestClient],
) -> None:
    console, client = demo
    card_id = post_card(console, client)
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        history = hello(ws, user="bob")
    assert history["chat"] == "ops"
    assert history["user"] == {
        "id": "bob",
        "name": "Bob",
        "roles": ["lead"],
        "language": "en",
        "timezone": "UTC",
    }
    [message] = history["messages"]
    assert message["id"] == card_id
    assert message["card"]["ref"] == "incident:42"


def test_a_command_reaches_the_inbound_handler_and_the_reply_is_shown(
    demo: tuple[ConsoleApp, TestClient],
) -> None:
    console, client = demo
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        hello(ws, user="bob")
        ws.send_json({"type": "command", "text": "  /ack 42 ", "request_id": "r1"})
        events = until(ws, "done")

    [request] = console.inbound.commands
    assert request.text == "/ack 42"
    assert request.sender == Sender("console", "U-bob", "Bob")
    assert request.chat == OPS
    assert request.received_at == console.clock.now()
    assert uuid.UUID(request.event_id)
    typed, reply = messages(events)
    assert (typed["author"], typed["text"]) == ("Bob", "/ack 42")
    assert (reply["author"], reply["text"], reply["reply_to"]) == (
        "Tocsin",
        "ok: /ack 42",
        typed["id"],
    )
    assert events[-1] == {"type": "done", "request_id": "r1", "ok": True}
    transcript = client.get("/console/api/transcript?chat=ops").json()
    assert [m["text"] for m in transcript] == ["/ack 42", "ok: /ack 42"]


def test_mentions_become_commands_and_chatter_stays_chatter(
    demo: tuple[ConsoleApp, TestClient],
) -> None:
    console, client = demo
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        hello(ws, user="wang")
        ws.send_json({"type": "command", "text": "大家好", "request_id": 1})
        until(ws, "done")
        ws.send_json({"type": "command", "text": "@Tocsin 状态 orders", "request_id": 2})
        until(ws, "done")
    assert [r.text for r in console.inbound.commands] == ["/状态 orders"]
    assert command_text("hello /not a command") is None
    assert command_text("@tocsin: /deploy orders v1") == "/deploy orders v1"


def test_a_reply_card_is_posted_in_the_chat(demo: tuple[ConsoleApp, TestClient]) -> None:
    _, client = demo
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        hello(ws, user="alice")
        ws.send_json({"type": "command", "text": "/card", "request_id": "c"})
        _, text, card = messages(until(ws, "done"))
    assert text["text"] == "here is the card"
    assert (card["kind"], card["card"]["tier"]) == ("card", "P2")


def test_private_replies_are_not_shown_to_others(demo: tuple[ConsoleApp, TestClient]) -> None:
    _, client = demo
    with (
        client.websocket_connect("/console/ws?chat=ops") as alice,
        client.websocket_connect("/console/ws?chat=ops") as bob,
    ):
        hello(alice, user="alice")
        hello(bob, user="bob")
        alice.send_json({"type": "command", "text": "/whoami", "request_id": "w"})
        typed, private = messages(until(alice, "done"))
        bob.send_json({"type": "ping"})
        seen_by_bob = until(bob, "pong")

    assert private["private"] is True
    assert private["text"] == "you are Alice Chen"
    assert messages(seen_by_bob) == [typed]
    as_bob = client.get("/console/api/transcript?chat=ops&user=bob").json()
    as_alice = client.get("/console/api/transcript?chat=ops&user=alice").json()
    assert [m["id"] for m in as_bob] == [typed["id"]]
    assert [m["id"] for m in as_alice] == [typed["id"], private["id"]]


def test_pressing_a_button_reaches_the_handler_and_updates_the_card(
    demo: tuple[ConsoleApp, TestClient],
) -> None:
    console, client = demo
    card_id = post_card(console, client)
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        hello(ws, user="alice")
        ws.send_json(
            {
                "type": "action",
                "message_id": card_id,
                "action": "ack",
                "value": "",
                "card_ref": "incident:42",
                "request_id": "p1",
            }
        )
        events = until(ws, "done")

    [request] = console.inbound.actions
    assert (request.action, request.card_ref, request.value) == (ActionKind.ACK, "incident:42", "")
    assert request.sender == Sender("console", "alice", "Alice Chen")
    update = next(e for e in events if e["type"] == "update")
    assert update["message"]["id"] == card_id
    assert update["message"]["card"]["status"] == "Acknowledged by Alice Chen"
    reply = next(e["message"] for e in events if e["type"] == "message")
    assert (reply["text"], reply["reply_to"]) == ("ack by Alice Chen", card_id)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"action": "resolve"}, "no longer on the card"),
        ({"value": "24h", "action": "silence"}, "no longer on the card"),
        ({"card_ref": "incident:1"}, "card has changed"),
        ({"message_id": 999}, "not in this chat"),
        ({"action": "explode"}, "unknown action"),
        ({"message_id": "1"}, "message_id"),
    ],
)
def test_presses_that_do_not_match_the_stored_card_change_nothing(
    demo: tuple[ConsoleApp, TestClient], change: Event, error: str
) -> None:
    console, client = demo
    card_id = post_card(console, client)
    press = {"type": "action", "message_id": card_id, "action": "ack", "value": ""}
    press["card_ref"] = "incident:42"
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        hello(ws, user="alice")
        ws.send_json({**press, **change, "request_id": "x"})
        events = until(ws, "done")
    assert error in events[0]["text"]
    assert events[-1]["ok"] is False
    assert console.inbound.actions == []


def test_a_card_from_another_chat_cannot_be_pressed(demo: tuple[ConsoleApp, TestClient]) -> None:
    console, client = demo
    card_id = post_card(console, client)
    with client.websocket_connect("/console/ws?chat=payments") as ws:
        hello(ws, user="alice")
        ws.send_json({"type": "action", "message_id": card_id, "action": "ack", "request_id": 1})
        [error, done] = until(ws, "done")
    assert error == {"type": "error", "text": "that card is not in this chat"}
    assert done["ok"] is False
    assert console.inbound.actions == []


def test_bad_frames_get_an_error_and_the_conversation_goes_on(
    demo: tuple[ConsoleApp, TestClient],
) -> None:
    console, client = demo
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        hello(ws, user="alice")
        ws.send_text("not json")
        assert ws.receive_json()["type"] == "error"
        ws.send_json(["a", "list"])
        assert ws.receive_json()["type"] == "error"
        ws.send_json({"type": "dance"})
        assert "unknown message type" in ws.receive_json()["text"]
        ws.send_json({"type": "command", "text": "x" * 20_000})
        assert "too large" in ws.receive_json()["text"]
        ws.send_json({"type": "command", "text": "/boom", "request_id": "b"})
        *_, error, done = until(ws, "done")
        assert error["type"] == "error"
        assert "boom" not in error["text"]
        assert done["ok"] is False
        ws.send_json({"type": "command", "text": "/still here", "request_id": "s"})
        assert messages(until(ws, "done"))[-1]["text"] == "ok: /still here"
    assert [r.text for r in console.inbound.commands] == ["/boom", "/still here"]


def refused(client: TestClient, url: str, first: Event) -> tuple[Event, int]:
    with client.websocket_connect(url) as ws:
        ws.send_json(first)
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    return error, closed.value.code


def test_token_mode_refuses_a_wrong_token(token: tuple[ConsoleApp, TestClient]) -> None:
    console, client = token
    error, code = refused(client, "/console/ws?chat=ops", {"type": "hello", "token": "guess"})
    assert error["type"] == "error"
    assert code == CloseCode.UNAUTHORIZED
    # Naming a user is not enough outside demo mode.
    _, code = refused(client, "/console/ws?chat=ops", {"type": "hello", "user": "alice"})
    assert code == CloseCode.UNAUTHORIZED
    assert console.inbound.commands == []


def test_token_mode_signs_in_with_the_right_token(token: tuple[ConsoleApp, TestClient]) -> None:
    _, client = token
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        history = hello(ws, token=TOKENS["bob"])
    assert history["user"]["id"] == "bob"


@pytest.mark.parametrize(
    ("url", "first", "code"),
    [
        ("/console/ws?chat=nope", {"type": "hello", "user": "alice"}, CloseCode.NO_SUCH_CHAT),
        ("/console/ws?chat=@bob", {"type": "hello", "user": "alice"}, CloseCode.FORBIDDEN),
        ("/console/ws?chat=ops", {"type": "command", "text": "/ack 1"}, CloseCode.BAD_HELLO),
        ("/console/ws?chat=ops", {"type": "hello", "user": "mallory"}, CloseCode.UNAUTHORIZED),
    ],
)
def test_refused_conversations(
    demo: tuple[ConsoleApp, TestClient], url: str, first: Event, code: int
) -> None:
    _, client = demo
    error, closed_with = refused(client, url, first)
    assert error["type"] == "error"
    assert closed_with == code


def test_the_private_chat_is_at_me(demo: tuple[ConsoleApp, TestClient]) -> None:
    console, client = demo
    assert client.portal is not None
    client.portal.call(console.platform.post_private, "@bob", "bob", "psst")
    with client.websocket_connect("/console/ws?chat=@me") as ws:
        history = hello(ws, user="bob")
    assert history["chat"] == "@bob"
    assert [m["text"] for m in history["messages"]] == ["psst"]


def test_cards_posted_later_arrive_live(demo: tuple[ConsoleApp, TestClient]) -> None:
    console, client = demo
    with client.websocket_connect("/console/ws?chat=ops") as ws:
        hello(ws, user="alice")
        card_id = post_card(console, client, tier=Tier.P1)
        event = ws.receive_json()
    assert event["type"] == "message"
    assert event["message"]["id"] == card_id
    assert event["message"]["card"]["tier"] == "P1"


def test_transcript_needs_a_bearer_token_in_token_mode(
    token: tuple[ConsoleApp, TestClient],
) -> None:
    console, client = token
    assert client.portal is not None
    client.portal.call(console.platform.post_private, "ops", "alice", "for alice")

    missing = client.get("/console/api/transcript?chat=ops")
    wrong = client.get(
        "/console/api/transcript?chat=ops", headers={"Authorization": "Bearer wrong"}
    )
    as_bob = client.get(
        "/console/api/transcript?chat=ops", headers={"Authorization": f"Bearer {TOKENS['bob']}"}
    )
    as_alice = client.get(
        "/console/api/transcript?chat=ops",
        headers={"Authorization": f"Bearer {TOKENS['alice']}"},
    )

    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert as_bob.status_code == 200
    assert as_bob.json() == []
    assert [m["text"] for m in as_alice.json()] == ["for alice"]


def test_transcript_rejects_unknown_chats_and_bad_limits(
    demo: tuple[ConsoleApp, TestClient],
) -> None:
    _, client = demo
    assert client.get("/console/api/transcript?chat=nope").status_code == 404
    assert client.get("/console/api/transcript?chat=@alice").status_code == 403
    assert client.get("/console/api/transcript?chat=ops&limit=0").status_code == 400
    assert client.get("/console/api/transcript?chat=ops&limit=x").status_code == 400
    assert client.get("/console/api/transcript?chat=@alice&user=alice").status_code == 200


def test_demo_endpoints(demo: tuple[ConsoleApp, TestClient]) -> None:
    console, client = demo
    users = client.get("/console/api/users").json()
    assert [u["id"] for u in users] == ["alice", "bob", "wang"]
    assert users[2]["name"] == "王芳"
    config = client.get("/console/api/config").json()
    assert {k: v for k, v in config.items() if k != "texts"} == {
        "auth": "demo",
        "chats": ["ops", "payments"],
        "demo_alert": True,
        "language": "en",
    }
    assert (config["texts"]["en"]["send"], config["texts"]["zh"]["send"]) == ("Send", "发送")
    fired = client.post("/console/api/demo-alert", json={})
    assert fired.json() == {"ok": True, "detail": "incident #100 opened"}
    assert console.demo_alerts == ["incident:100"]
    assert client.post("/console/api/demo-alert", content=b"{}").status_code == 415


def test_demo_endpoints_do_not_exist_in_token_mode(token: tuple[ConsoleApp, TestClient]) -> None:
    console, client = token
    assert client.get("/console/api/users").status_code == 404
    assert client.post("/console/api/demo-alert", json={}).status_code == 404
    assert console.demo_alerts == []
    assert client.get("/console/api/config").json()["auth"] == "token"


def test_the_page_and_its_files(demo: tuple[ConsoleApp, TestClient]) -> None:
    _, client = demo
    page = client.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/console/static/console.js"' in page.text
    assert "Demo mode" in page.text
    script = client.get("/console/static/console.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in script.text
    assert client.get("/console/static/console.css").status_code == 200
    assert client.get("/console/static/secrets.txt").status_code == 404
    assert client.get("/console/static/console.html").status_code == 404


def test_no_routes_when_disabled(tmp_path: Path) -> None:
    console = build_console(tmp_path)
    routes = console_routes(
        console.platform, console.hub, console.inbound, Console(enabled=False), (), console.clock
    )
    assert routes == []


def test_a_socket_that_never_says_hello_is_closed(tmp_path: Path) -> None:
    console = build_console(tmp_path)
    directory = Directory(Console(auth="demo", chats=("ops",)), USERS)
    ctx = ConsoleContext(
        console.platform, console.hub, console.inbound, directory, console.clock, hello_timeout=0.05
    )

    async def endpoint(ws: WebSocket) -> None:
        await serve(ws, ctx)

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_json() == {"type": "error", "text": "say hello first"}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == CloseCode.HELLO_TIMEOUT
