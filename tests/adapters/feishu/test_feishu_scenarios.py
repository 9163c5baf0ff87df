"""The scenario suite, through the real core, in both inbound modes: Tocsin from `bootstrap` on
SQLite and PostgreSQL, started as in production; the real lark-oapi against the fake Feishu — its
`lark.ws.Client` on the fake long connection, or encrypted and signed requests to
``/feishu/events`` dispatched by its `EventDispatcherHandler`; cards through the outbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fake_feishu import FakeLongConnection, FakeOpenApi, Message, eventually
from feishu_support import (
    ALICE,
    BOB,
    CAROL,
    CHAT,
    STRANGER,
    Feishu,
    LongConnection,
    Webhook,
    adapter_of,
    audit,
    buttons,
    card_press,
    card_refs,
    incident,
    message_event,
    recorded,
)

from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.i18n import t
from bot.incidents.rollback import RollbackTicket
from tests.support import firing

ACKED = t("incident.acked", "en", id=1, user="Alice")


@pytest.fixture(params=["webhook", "long_connection"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


Running = Callable[[Tocsin], AbstractAsyncContextManager[Feishu]]


@pytest.fixture
def running(
    mode: str, clock: FakeClock, ws_server: FakeLongConnection, open_api: FakeOpenApi
) -> Running:
    """Tocsin started (its background loops include the long connection) and a way to deliver
    events to it the way Feishu does in `mode`."""

    @asynccontextmanager
    async def run(tocsin: Tocsin) -> AsyncIterator[Feishu]:
        await tocsin.start(run_engine=False)
        adapter = adapter_of(tocsin)
        try:
            if mode == "long_connection":
                await ws_server.connected()
                yield LongConnection(ws_server, adapter, open_api)
            else:
                transport = httpx.ASGITransport(app=tocsin.app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://tocsin.test"
                ) as client:
                    yield Webhook(client, clock, adapter, open_api)
        finally:
            await tocsin.stop()

    return run


async def open_card(tocsin: Tocsin, api: FakeOpenApi, name: str = "HighErrorRate") -> Message:
    await tocsin.ingest.ingest([firing(name)])
    await tocsin.engine.tick()
    return api.cards_in(CHAT)[-1]


def status_tag(card: dict[str, Any]) -> str:
    return str(card["header"]["text_tag_list"][-1]["text"]["content"])


async def test_an_alert_posts_a_card_whose_place_is_stored(
    make_tocsin: Callable[..., Tocsin], open_api: FakeOpenApi, mode: str
) -> None:
    tocsin = make_tocsin(mode=mode)
    card = await open_card(tocsin, open_api)
    header = card.content["header"]
    assert (header["template"], header["text_tag_list"][0]["text"]["content"]) == ("red", "P0")
    assert header["title"]["content"] == "HighErrorRate · orders"
    assert card.content["config"]["update_multi"] is True
    assert [b["behaviors"][0]["value"]["a"] for b in buttons(card.content)] == [
        "ack",
        "silence",
        "silence",
        "silence",
        "resolve",
        "rollback",
    ]
    assert await card_refs(tocsin) == [{"message_id": card.message_id, "chat_id": CHAT}]
    (token_call,) = open_api.calls_to("POST /open-apis/auth/v3/tenant_access_token/internal")
    assert token_call.body == {"app_id": open_api.app_id, "app_secret": open_api.app_secret}
    assert open_api.calls_to("POST /open-apis/im/v1/messages")[0].token == open_api.tenant_token


async def test_acknowledge_press_is_answered_with_a_toast_and_the_card(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    running: Running,
    mode: str,
) -> None:
    tocsin = make_tocsin(mode=mode)
    async with running(tocsin) as feishu:
        card = await open_card(tocsin, open_api)
        answer = await feishu.send(card_press(card, "ack", user=ALICE))
        assert answer.status == 200
        assert answer.body["toast"] == {"type": "success", "content": ACKED}
        example = recorded("feishu_card_action_response_toast_and_card")
        assert set(answer.body) == set(example) and set(answer.body["card"]) == set(example["card"])
        shown = answer.body["card"]
        assert shown["type"] == "raw" and shown["data"]["schema"] == "2.0"
        assert ACKED in json.dumps(shown["data"], ensure_ascii=False)
        row = await incident(tocsin, 1)
        assert (row.status, row.acked_by) == ("acknowledged", "Alice")

        await tocsin.engine.tick()  # the outbox's update follows, patching the same message
        (patch,) = open_api.calls_to("PATCH /open-apis/im/v1/messages/:id")
        assert patch.path.endswith(card.message_id)
        assert card.updates == 1 and status_tag(card.content) == "Acknowledged"
        assert "unack" in json.dumps(card.content)
        (entry,) = await audit(tocsin)
        assert (entry.actor, entry.platform, entry.action, entry.outcome) == (
            "alice",
            "feishu",
            "button:ack",
            "allowed",
        )


async def test_a_press_without_the_grant_gets_an_error_toast_and_changes_nothing(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    running: Running,
    mode: str,
) -> None:
    tocsin = make_tocsin(mode=mode)
    async with running(tocsin) as feishu:
        card = await open_card(tocsin, open_api)
        before = json.dumps(card.content)
        answer = await feishu.send(card_press(card, "ack", user=CAROL))
        await tocsin.engine.tick()
    scope = t("auth.scope", "en", service="orders", environment="prod")
    denied = t("auth.denied", "en", action=t("action.ack", "en"), scope=scope, roles="viewer")
    assert answer.body == {"toast": {"type": "error", "content": denied}}, "no card: unchanged"
    assert (await incident(tocsin, 1)).status == "triggered"
    assert open_api.calls_to("PATCH /open-apis/im/v1/messages/:id") == []
    assert json.dumps(card.content) == before
    (entry,) = await audit(tocsin)
    assert (entry.actor, entry.target, entry.outcome) == ("carol", "incident:1 ack", "denied")


async def test_a_stranger_is_told_and_nothing_changes(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    running: Running,
    mode: str,
) -> None:
    tocsin = make_tocsin(mode=mode)
    async with running(tocsin) as feishu:
        card = await open_card(tocsin, open_api)
        answer = await feishu.send(card_press(card, "ack", user=STRANGER))
    toast = answer.body["toast"]
    assert toast["type"] == "error" and STRANGER in toast["content"]
    assert (await incident(tocsin, 1)).status == "triggered"
    assert [e.outcome for e in await audit(tocsin)] == ["denied"]


async def test_a_person_known_by_union_id_is_recognised(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    running: Running,
    mode: str,
) -> None:
    tocsin = make_tocsin(mode=mode)
    async with running(tocsin) as feishu:
        card = await open_card(tocsin, open_api)
        answer = await feishu.send(card_press(card, "ack", user=BOB))
    assert answer.body["toast"]["type"] == "success"
    assert (await incident(tocsin, 1)).acked_by == "Bob"
    assert [(e.actor, e.outcome) for e in await audit(tocsin)] == [("bob", "allowed")]


async def test_a_duplicate_press_is_processed_once(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    running: Running,
    mode: str,
) -> None:
    tocsin = make_tocsin(mode=mode)
    async with running(tocsin) as feishu:
        card = await open_card(tocsin, open_api)
        first = await feishu.send(card_press(card, "ack", event_id="evSAME"))
        again = await feishu.send(card_press(card, "ack", event_id="evSAME"))
    assert first.body["toast"]["content"] == ACKED
    assert again.body == {}, "a re-delivery says nothing"
    assert len(await audit(tocsin)) == 1


async def test_an_at_command_in_a_group_reaches_the_command_registry(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    running: Running,
    mode: str,
) -> None:
    tocsin = make_tocsin(mode=mode)
    async with running(tocsin) as feishu:
        await open_card(tocsin, open_api)
        said = message_event("/ack 1")
        answer = await feishu.send(said)
        assert answer.status == 200
        assert (await incident(tocsin, 1)).status == "acknowledged"
        (reply,) = open_api.posts_in(CHAT)
        assert reply.text == ACKED
        assert reply.parent_id == said["event"]["message"]["message_id"], "under the command"

        await feishu.send(message_event("deploy orders v1.4.2 prod"))
        await feishu.send(message_event("/incident 1"))
        await feishu.send(message_event("nothing for the bot", mention_bot=False))
        await feishu.send(message_event("incident list", thread_id="omt_1"))
    entries = await audit(tocsin)
    assert [(e.action, e.target) for e in entries] == [
        ("command:ack", "/ack 1"),
        ("command", "/deploy orders v1.4.2 prod"),
        ("command:incident", "/incident 1"),
        ("command:incident", "/incident list"),
    ]
    assert [m.in_thread for m in open_api.posts_in(CHAT)] == [False, False, True], "threads kept"
    shown = [m for m in open_api.posts_in(CHAT) if m.parent_id and "live card" in m.text]
    assert len(shown) == 1, "/incident 1 is answered under the command; its live card follows"


async def test_a_re_delivered_message_is_processed_once(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    running: Running,
    mode: str,
) -> None:
    tocsin = make_tocsin(mode=mode)
    async with running(tocsin) as feishu:
        await open_card(tocsin, open_api)
        said = message_event("ack 1", message_id="om_once", event_id="ev-first")
        again = message_event("ack 1", message_id="om_once", event_id="ev-second")
        await feishu.send(said)
        await feishu.send(again)
    assert [m.text for m in open_api.posts_in(CHAT)] == [ACKED]
    assert len(await audit(tocsin)) == 1


async def test_commands_in_a_direct_message_and_private_replies(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    running: Running,
    mode: str,
) -> None:
    tocsin = make_tocsin(mode=mode)
    direct = "oc_p2p_alice"
    open_api.chats.add(direct)
    async with running(tocsin) as feishu:
        await open_card(tocsin, open_api)
        await feishu.send(message_event("ack 1", chat=direct, chat_type="p2p", mention_bot=False))
        await feishu.send(message_event("/help", chat=CHAT))  # help is private: a direct message
    (acked,) = open_api.posts_in(direct)
    assert acked.text == ACKED
    (help_reply,) = open_api.direct(ALICE)
    assert help_reply.receive_id_type == "open_id"
    assert help_reply.text.startswith(t("cmd.help_header", "en"))
    assert open_api.posts_in(CHAT) == [], "nothing private in the group"
    assert [e.target for e in await audit(tocsin)] == ["/ack 1", "/help"]


class SlowDeploys:
    """A deploy service that takes its time, so a Rollback press outlasts Feishu's deadline."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def request_rollback(
        self, _conn: object, *, service: str, environment: str, **_details: object
    ) -> RollbackTicket:
        await self.release.wait()
        return RollbackTicket(True, f"rollback of {service} in {environment} started", "run-1")


async def test_a_slow_press_is_answered_in_time_and_replied_to_later(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    running: Running,
    mode: str,
) -> None:
    deploys = SlowDeploys()
    tocsin = make_tocsin(mode=mode, rollbacks=deploys, answer_within="300ms")
    adapter = adapter_of(tocsin)
    async with running(tocsin) as feishu:
        card = await open_card(tocsin, open_api)
        answer = await feishu.send(card_press(card, "rollback", user=ALICE), wait=False)
        assert (answer.status, answer.body) == (200, {}), "answered in time, nothing to show yet"
        assert adapter.work.running == 1, "the rollback is still under way"
        deploys.release.set()
        await adapter.idle()
    started = "rollback of orders in prod started"
    said = t(
        "incident.rollback",
        "en",
        user="Alice",
        service="orders",
        environment="prod",
        message=started,
    )
    assert [m.text for m in open_api.direct(ALICE)] == [said], "to the presser, once it came"
    await tocsin.engine.tick()  # and the core's own word to the chat, under the card
    replies = [m.text for m in open_api.posts_in(CHAT) if m.parent_id == card.message_id]
    assert replies == [said]
    assert [e.action for e in await audit(tocsin)] == ["button:rollback"]


async def test_feishu_is_answered_before_a_command_is_done(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    running: Running,
    mode: str,
) -> None:
    tocsin = make_tocsin(mode=mode)
    adapter = adapter_of(tocsin)
    async with running(tocsin) as feishu:
        await open_card(tocsin, open_api)
        reply_call = "POST /open-apis/im/v1/messages/:id/reply"
        release = open_api.hold(reply_call)  # the work after the ack stalls
        said = message_event("ack 1")
        answer = await feishu.send(said, wait=False)
        assert answer.status == 200, "acknowledged once stored, before the work is done"
        await eventually(lambda: bool(open_api.calls_to(reply_call)))
        assert adapter.work.running == 1 and open_api.posts_in(CHAT) == []
        release.set()
        await adapter.idle()
        assert (await incident(tocsin, 1)).status == "acknowledged"
        (reply,) = open_api.posts_in(CHAT)
        assert reply.parent_id == said["event"]["message"]["message_id"]
