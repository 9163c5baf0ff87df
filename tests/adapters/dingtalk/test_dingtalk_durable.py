"""Presses and messages are stored before DingTalk is told OK, and a request whose process died
after the acknowledgement is answered by another replica through the stored route.

Replicas are Tocsins from `bootstrap` on one database and one fake DingTalk; the dingtalk-stream
SDK against the fake gateway, HTTP mode through the ASGI app. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from dingtalk_support import (
    ALICE,
    GROUP,
    Inbound,
    adapter_of,
    audit,
    bot_message,
    button,
    card_press,
    inbox_rows,
    incident,
    signed_headers,
)
from fake_dingtalk import FakeDingTalkApi, FakeGateway, eventually
from starlette.applications import Starlette

from adapters.chat.dingtalk import DingTalkAdapter
from adapters.chat.dingtalk.handlers import CARD_TOPIC, MESSAGE_TOPIC
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.i18n import t
from bot.inbound import InboundHandler
from bot.inbox import LEASE
from tests.support import firing

ACKED_1 = t("incident.acked", "en", id=1, user="Alice")
PATH = "/dingtalk/callback"
AFTER_LEASE = LEASE + timedelta(seconds=1)


@asynccontextmanager
async def streaming(
    tocsin: Tocsin, gateway: FakeGateway, inbound: InboundHandler, connection: int = 1
) -> AsyncIterator[DingTalkAdapter]:
    """The replica's Stream connection (its `connection`-th to the gateway), with `inbound`."""
    adapter = adapter_of(tocsin)
    task = asyncio.create_task(adapter.run(inbound))
    try:
        await gateway.connected(connection)
        yield adapter
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def http(tocsin: Tocsin, inbound: Inbound) -> AsyncIterator[httpx.AsyncClient]:
    """The replica's HTTP-mode callback, with `inbound`."""
    app = Starlette(routes=adapter_of(tocsin).routes(inbound))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        yield client


async def open_card(tocsin: Tocsin, api: FakeDingTalkApi) -> str:
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    return list(api.cards)[-1]


async def die(adapter: DingTalkAdapter) -> None:
    """The replica stops without finishing what it acknowledged."""
    await adapter.work.aclose(grace=0)


# -- stored before the acknowledgement --------------------------------------------------------


async def test_a_press_is_acknowledged_only_once_it_is_stored(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    inbound = Inbound(tocsin.dispatcher)
    inbound.gate = asyncio.Event()
    card_id = await open_card(tocsin, dingtalk)
    async with streaming(tocsin, gateway, inbound) as adapter:
        data = card_press(card_id, button(dingtalk, card_id, "ack"))
        await gateway.send("CALLBACK", CARD_TOPIC, data, message_id="card-gated")
        await eventually(lambda: inbound.events == ["accept card:card-gated"], what="accept")
        await asyncio.sleep(0.2)
        assert gateway.acks("card-gated") == [], "no acknowledgement while storing"
        inbound.gate.set()
        ack = json.loads(await gateway.acked("card-gated"))
        (row,) = await inbox_rows(tocsin)  # stored when the acknowledgement is seen
        await adapter.idle()
    assert ack["code"] == 200
    assert inbound.events == ["accept card:card-gated", "action card:card-gated"]
    assert row.event_id == "card:card-gated" and row.kind == "action"
    assert row.route == {
        "kind": "press",
        "group": GROUP,
        "user": ALICE,
        "webhook": "",
        "webhook_expires": None,
        "out_track_id": card_id,
        "label": "Acknowledge",
    }
    assert dingtalk.cards[card_id].private[ALICE] == {"notice": ACKED_1}


async def test_a_press_that_cannot_be_stored_is_refused_and_its_redelivery_handled(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    inbound = Inbound(tocsin.dispatcher)
    inbound.unstored = True
    card_id = await open_card(tocsin, dingtalk)
    async with streaming(tocsin, gateway, inbound) as adapter:
        data = card_press(card_id, button(dingtalk, card_id, "ack"))
        await gateway.send("CALLBACK", CARD_TOPIC, data, message_id="card-down")
        refused = json.loads(await gateway.acked("card-down"))
        await adapter.idle()
        assert inbound.events == ["accept card:card-down"], "nothing handled"
        assert await audit(tocsin) == [] and await inbox_rows(tocsin) == []
        assert (await incident(tocsin, 1)).status == "triggered"
        assert dingtalk.cards[card_id].private == {}

        inbound.unstored = False  # the database is back; DingTalk delivers the press again
        await gateway.send("CALLBACK", CARD_TOPIC, data, message_id="card-down")
        await eventually(lambda: len(gateway.acks("card-down")) == 2, what="the second ack")
        await adapter.idle()
    assert refused["code"] == 500
    assert "not stored" in refused["data"] and "ConnectionRefusedError" in refused["data"]
    assert json.loads(gateway.acks("card-down")[1])["code"] == 200
    assert (await incident(tocsin, 1)).status == "acknowledged"
    assert [e.outcome for e in await audit(tocsin)] == ["allowed"]


async def test_a_stream_message_that_cannot_be_stored_is_refused(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    inbound = Inbound(tocsin.dispatcher)
    inbound.unstored = True
    await open_card(tocsin, dingtalk)
    async with streaming(tocsin, gateway, inbound) as adapter:
        said = bot_message(dingtalk, "ack 1", msg_id="msgDOWN==")
        await gateway.send("CALLBACK", MESSAGE_TOPIC, said, message_id="bot-down")
        refused = json.loads(await gateway.acked("bot-down"))
        await adapter.idle()
    assert refused["code"] == 500 and "not stored" in refused["data"]
    assert inbound.events == ["accept message:msgDOWN=="]
    assert await audit(tocsin) == [] and dingtalk.sent == []
    assert (await incident(tocsin, 1)).status == "triggered"


async def test_an_http_message_is_answered_ok_only_once_it_is_stored(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    inbound = Inbound(tocsin.dispatcher)
    await open_card(tocsin, dingtalk)
    message = bot_message(dingtalk, "ack 1", msg_id="msgHTTP==")
    headers = signed_headers(int(clock.now().timestamp() * 1000))
    async with http(tocsin, inbound) as client:
        inbound.unstored = True
        refused = await client.post(PATH, content=json.dumps(message).encode(), headers=headers)
        await adapter_of(tocsin).idle()
        assert inbound.events == ["accept message:msgHTTP=="], "nothing handled"
        assert await audit(tocsin) == [] and dingtalk.sent == []

        inbound.unstored, inbound.gate = False, asyncio.Event()
        # DingTalk's retry: the refused request did not use up its signature
        retry = asyncio.create_task(
            client.post(PATH, content=json.dumps(message).encode(), headers=headers)
        )
        await eventually(lambda: len(inbound.events) == 2, what="accept")
        await asyncio.sleep(0.2)
        assert not retry.done(), "no answer while storing"
        inbound.gate.set()
        answered = await retry
        (row,) = await inbox_rows(tocsin)
        await adapter_of(tocsin).idle()
    assert refused.status_code == 503 and "not stored" in refused.text
    assert (answered.status_code, answered.json()) == (200, {})
    assert row.event_id == "message:msgHTTP==" and row.route["kind"] == "message"
    assert inbound.events[1:] == ["accept message:msgHTTP==", "command message:msgHTTP=="]
    assert (await incident(tocsin, 1)).status == "acknowledged"
    (answer,) = dingtalk.sent
    assert answer["to"].startswith("session:") and answer["text"] == {"content": ACKED_1}


# -- taken over after the lease ---------------------------------------------------------------


async def test_a_press_whose_process_died_is_answered_by_another_replica(
    make_tocsin: Callable[..., Tocsin],
    dingtalk: FakeDingTalkApi,
    gateway: FakeGateway,
    clock: FakeClock,
) -> None:
    one, two = make_tocsin(), make_tocsin()  # one database, one DingTalk
    dying = Inbound(one.dispatcher)
    dying.dead = True
    card_id = await open_card(one, dingtalk)
    data = card_press(card_id, button(dingtalk, card_id, "ack"))
    async with streaming(one, gateway, dying) as adapter:
        await gateway.send("CALLBACK", CARD_TOPIC, data, message_id="card-orphan")
        ack = json.loads(await gateway.acked("card-orphan"))
        await eventually(lambda: "action card:card-orphan" in dying.events, what="the work")
        await die(adapter)
    assert ack["code"] == 200 and "\\u23f3 Acknowledge" in ack["data"]
    assert (await incident(one, 1)).status == "triggered"
    assert dingtalk.cards[card_id].private == {}

    await two.engine.tick()
    assert (await incident(two, 1)).status == "triggered", "still leased to the dead replica"
    clock.advance(AFTER_LEASE)
    await two.engine.tick()  # the engine's inbox pass hands it to two's DingTalk adapter
    await adapter_of(two).idle()
    assert (await incident(two, 1)).status == "acknowledged"
    card = dingtalk.cards[card_id]
    assert card.private == {ALICE: {"notice": ACKED_1}}, "answered on the stored card"
    assert {"to": GROUP, "msgKey": "sampleText", "content": ACKED_1} in dingtalk.sent
    assert [(e.action, e.outcome) for e in await audit(two)] == [("button:ack", "allowed")]
    (row,) = await inbox_rows(two)
    assert (row.state, row.attempts) == ("done", 2)

    # DingTalk delivers the press again (to the replica that is alive): nothing changes
    sent = len(dingtalk.sent)
    async with streaming(two, gateway, two.dispatcher, connection=2) as adapter:
        await gateway.send("CALLBACK", CARD_TOPIC, data, message_id="card-orphan")
        await eventually(lambda: len(gateway.acks("card-orphan")) == 2, what="the second ack")
        await adapter.idle()
    clock.advance(AFTER_LEASE)
    await two.engine.tick()
    await adapter_of(two).idle()
    assert len(await audit(two)) == 1 and len(dingtalk.sent) == sent
    assert card.private == {ALICE: {"notice": ACKED_1}}, "the answer put back"


async def test_a_message_whose_process_died_is_answered_by_another_replica(
    make_tocsin: Callable[..., Tocsin],
    dingtalk: FakeDingTalkApi,
    gateway: FakeGateway,
    clock: FakeClock,
) -> None:
    one, two = make_tocsin(), make_tocsin()
    dying = Inbound(one.dispatcher)
    dying.dead = True
    await open_card(one, dingtalk)
    said = bot_message(dingtalk, "ack 1", msg_id="msgORPHAN==")
    async with streaming(one, gateway, dying) as adapter:
        await gateway.send("CALLBACK", MESSAGE_TOPIC, said, message_id="bot-orphan")
        assert json.loads(await gateway.acked("bot-orphan"))["code"] == 200
        await eventually(lambda: "command message:msgORPHAN==" in dying.events, what="work")
        await die(adapter)
    assert dingtalk.sent == []

    clock.advance(AFTER_LEASE)
    await two.dispatcher.resume()
    await adapter_of(two).idle()
    (answer,) = dingtalk.sent
    assert answer["to"] == f"session:{said['sessionWebhook'].rsplit('=', 1)[1]}"
    assert answer["text"] == {"content": ACKED_1}, "answered through the stored webhook"
    assert (await incident(two, 1)).status == "acknowledged"
    assert [(e.target, e.outcome) for e in await audit(two)] == [("/ack 1", "allowed")]

    async with streaming(two, gateway, two.dispatcher, connection=2) as adapter:
        await gateway.send("CALLBACK", MESSAGE_TOPIC, said, message_id="bot-orphan")
        await eventually(lambda: len(gateway.acks("bot-orphan")) == 2, what="the second ack")
        await adapter.idle()
    assert len(dingtalk.sent) == 1 and len(await audit(two)) == 1
    assert [r.state for r in await inbox_rows(two)] == ["done"]


async def test_a_taken_over_message_whose_webhook_expired_goes_through_the_robot_api(
    make_tocsin: Callable[..., Tocsin],
    dingtalk: FakeDingTalkApi,
    gateway: FakeGateway,
    clock: FakeClock,
) -> None:
    one, two = make_tocsin(), make_tocsin()
    dying = Inbound(one.dispatcher)
    dying.dead = True
    await open_card(one, dingtalk)
    expires = int((clock.now() + timedelta(seconds=10)).timestamp() * 1000)
    said = bot_message(dingtalk, "ack 1", webhook_expires_ms=expires)
    async with streaming(one, gateway, dying) as adapter:
        await gateway.send("CALLBACK", MESSAGE_TOPIC, said, message_id="bot-late")
        await gateway.acked("bot-late")
        await eventually(lambda: len(dying.events) == 2, what="the work")
        await die(adapter)
    clock.advance(AFTER_LEASE)
    await two.dispatcher.resume()
    await adapter_of(two).idle()
    assert dingtalk.sent == [{"to": GROUP, "msgKey": "sampleText", "content": ACKED_1}]
