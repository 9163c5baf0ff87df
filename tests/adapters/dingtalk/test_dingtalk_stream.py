"""Stream mode through the real core: Tocsin from `bootstrap` started as it runs in production
(its background loops include the Stream connection), the real dingtalk-stream client against the
fake gateway and OpenAPI, acknowledgements checked byte for byte. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from dingtalk_support import (
    ALICE,
    CAROL,
    GROUP,
    TEMPLATE,
    adapter_of,
    audit,
    bot_message,
    button,
    buttons,
    card_press,
    card_refs,
    incident,
)
from fake_dingtalk import CLIENT_ID, CLIENT_SECRET, FakeDingTalkApi, FakeGateway, eventually

from adapters.chat.dingtalk import DingTalkAdapter
from adapters.chat.dingtalk.handlers import CARD_TOPIC, MESSAGE_TOPIC
from bot.bootstrap import Tocsin
from bot.i18n import t
from tests.support import firing

OPEN = "/v1.0/gateway/connections/open"
ACKED_1 = t("incident.acked", "en", id=1, user="Alice")


@asynccontextmanager
async def running(tocsin: Tocsin, gateway: FakeGateway) -> AsyncIterator[DingTalkAdapter]:
    await tocsin.start(run_engine=False)
    try:
        await gateway.connected()
        adapter = adapter_of(tocsin)
        # the server sees the connection before the client has read the handshake's answer:
        # stopping in between would cut a connection that was never quite up
        await eventually(lambda: adapter.connected, what="the client to be connected")
        yield adapter
    finally:
        await tocsin.stop()


async def open_card(tocsin: Tocsin, api: FakeDingTalkApi, name: str = "HighErrorRate") -> str:
    await tocsin.ingest.ingest([firing(name)])
    await tocsin.engine.tick()
    return list(api.cards)[-1]


async def press(
    gateway: FakeGateway, adapter: DingTalkAdapter, data: dict[str, object], message_id: str
) -> str:
    """Push a card callback, wait for its acknowledgement and for the work it started."""
    await gateway.send("CALLBACK", CARD_TOPIC, data, message_id=message_id)
    ack = await gateway.acked(message_id)
    await adapter.idle()
    return ack


async def say(
    gateway: FakeGateway, adapter: DingTalkAdapter, data: dict[str, object], message_id: str
) -> str:
    await gateway.send("CALLBACK", MESSAGE_TOPIC, data, message_id=message_id)
    ack = await gateway.acked(message_id)
    await adapter.idle()
    return ack


async def test_the_connection_is_opened_as_the_protocol_says(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    async with running(tocsin, gateway) as adapter:
        await eventually(lambda: adapter.connected is True, what="connected")
        await gateway.send("SYSTEM", "ping", {"opaque": "0a1b-2c3d"}, message_id="ping-1")
        ack = await gateway.acked("ping-1")
    (opened,) = dingtalk.calls_to(OPEN)
    body = opened.body
    assert (body["clientId"], body["clientSecret"], body["localIp"]) == (
        CLIENT_ID,
        CLIENT_SECRET,
        "127.0.0.1",
    )
    assert body["subscriptions"] == [
        {"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"},
        {"type": "CALLBACK", "topic": "/v1.0/card/instances/callback"},
    ]
    assert body["ua"].startswith("dingtalk-sdk-python/")
    assert ack == (
        '{"code": 200, "headers": {"contentType": "application/json", "messageId": "ping-1"}, '
        '"message": "OK", "data": "{\\"opaque\\": \\"0a1b-2c3d\\"}"}'
    )


async def test_an_alert_creates_an_interactive_card(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi
) -> None:
    tocsin = make_tocsin()
    card_id = await open_card(tocsin, dingtalk)
    (create,) = dingtalk.calls_to("/v1.0/card/instances/createAndDeliver")
    body = create.body
    assert body["cardTemplateId"] == TEMPLATE and body["outTrackId"] == card_id
    assert (body["callbackType"], body["userIdType"]) == ("STREAM", 1)
    assert body["openSpaceId"] == f"dtv1.card//IM_GROUP.{GROUP}"
    assert body["imGroupOpenDeliverModel"] == {"robotCode": CLIENT_ID}
    params = body["cardData"]["cardParamMap"]
    assert params["title"] == "🔴 [P0] HighErrorRate · orders"
    assert (params["tier"], params["tier_color"], params["status"]) == (
        "P0",
        "#E53935",
        "triggered",
    )
    assert params["lastMessage"] == "[P0] HighErrorRate · orders" and params["notice"] == ""
    fields = json.loads(params["fields"])
    assert {"label": "Service", "value": "orders"} in fields
    shown = [(b["text"], json.loads(b["value"])["a"]) for b in json.loads(params["buttons"])]
    assert shown[0] == ("Acknowledge", "ack") and shown[-1] == ("Rollback", "rollback")
    assert create.token.startswith("token-")
    assert await card_refs(tocsin) == [
        {"out_track_id": card_id, "space": f"dtv1.card//IM_GROUP.{GROUP}"}
    ]


async def test_acknowledge_press_updates_the_card_for_everyone(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    async with running(tocsin, gateway) as adapter:
        card_id = await open_card(tocsin, dingtalk)
        data = card_press(card_id, button(dingtalk, card_id, "ack"), user=ALICE)
        ack = await press(gateway, adapter, data, "card-msg-1")
        assert ack == (
            '{"code": 200, "headers": {"contentType": "application/json", "messageId": '
            '"card-msg-1"}, "message": "", "data": "{\\"response\\": {\\"cardUpdateOptions\\": '
            '{\\"updatePrivateDataByKey\\": true}, \\"userPrivateData\\": {\\"cardParamMap\\": '
            '{\\"notice\\": \\"\\\\u23f3 Acknowledge\\"}}}}"}'
        )
        row = await incident(tocsin, 1)
        assert (row.status, row.acked_by) == ("acknowledged", "Alice")
        card = dingtalk.cards[card_id]
        assert card.private[ALICE] == {"notice": ACKED_1}, "the presser sees the answer"
        assert {"to": GROUP, "msgKey": "sampleText", "content": ACKED_1} in dingtalk.sent
        assert card.updates == 0
        await tocsin.engine.tick()
    assert card.updates == 1, "the outbox replaced the public data once"
    assert card.public["status"] == "acknowledged"
    assert card.seen_by(CAROL)["notice"] == "", "others do not see Alice's answer"
    assert "unack" in [json.loads(b["value"])["a"] for b in buttons(dingtalk, card_id, CAROL)]
    (put,) = [c for c in dingtalk.calls_to("/v1.0/card/instances") if "cardData" in c.body]
    assert put.body["cardUpdateOptions"]["updateCardDataByKey"] is True
    (entry,) = await audit(tocsin)
    assert (entry.actor, entry.platform, entry.action, entry.outcome) == (
        "alice",
        "dingtalk",
        "button:ack",
        "allowed",
    )


async def test_a_press_without_the_grant_is_denied_privately(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    async with running(tocsin, gateway) as adapter:
        card_id = await open_card(tocsin, dingtalk)
        data = card_press(card_id, button(dingtalk, card_id, "ack"), user=CAROL)
        await press(gateway, adapter, data, "card-msg-2")
        await tocsin.engine.tick()
    scope = t("auth.scope", "en", service="orders", environment="prod")
    denied = t("auth.denied", "en", action=t("action.ack", "en"), scope=scope, roles="viewer")
    card = dingtalk.cards[card_id]
    assert card.private == {CAROL: {"notice": denied}}
    assert card.updates == 0 and dingtalk.sent == []
    assert (await incident(tocsin, 1)).status == "triggered"
    (entry,) = await audit(tocsin)
    assert (entry.actor, entry.target, entry.outcome) == ("carol", "incident:1 ack", "denied")


async def test_a_redelivered_callback_is_processed_once(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    async with running(tocsin, gateway) as adapter:
        card_id = await open_card(tocsin, dingtalk)
        data = card_press(card_id, button(dingtalk, card_id, "ack"))
        await press(gateway, adapter, data, "card-once")
        await gateway.send("CALLBACK", CARD_TOPIC, data, message_id="card-once")
        await eventually(lambda: len(gateway.acks("card-once")) == 2, what="the second ack")
        await adapter.idle()
    assert len(await audit(tocsin)) == 1
    assert [m["content"] for m in dingtalk.sent] == [ACKED_1]
    assert dingtalk.cards[card_id].private[ALICE] == {"notice": ACKED_1}, "the answer put back"


async def test_an_at_command_in_a_group_reaches_the_command_registry(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    async with running(tocsin, gateway) as adapter:
        await open_card(tocsin, dingtalk)
        said = bot_message(dingtalk, " ack 1", msg_id="msgACK==")
        ack = await say(gateway, adapter, said, "bot-msg-1")
        deploy = bot_message(dingtalk, "/deploy orders v1.4.2 prod")
        await say(gateway, adapter, deploy, "bot-msg-2")
        typed = bot_message(dingtalk, "@tocsin incident 1")
        await say(gateway, adapter, typed, "bot-msg-3")
    assert ack == (
        '{"code": 200, "headers": {"contentType": "application/json", "messageId": '
        '"bot-msg-1"}, "message": "", "data": "{\\"response\\": \\"OK\\"}"}'
    )
    assert (await incident(tocsin, 1)).status == "acknowledged"
    entries = await audit(tocsin)
    assert [e.target for e in entries] == ["/ack 1", "/deploy orders v1.4.2 prod", "/incident 1"]
    assert [e.platform for e in entries] == ["dingtalk"] * 3
    first = dingtalk.sent[0]
    assert first["to"].startswith("session:") and first["text"] == {"content": ACKED_1}
    shown = [m for m in dingtalk.sent if "live card" in str(m)]  # the card follows (outbox)
    assert len(shown) == 1 and "HighErrorRate" in str(shown[0])


async def test_private_answers_to_a_group_go_to_the_persons_own_chat(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    async with running(tocsin, gateway) as adapter:
        await open_card(tocsin, dingtalk)
        await say(gateway, adapter, bot_message(dingtalk, "ack 1", user=CAROL), "bot-carol")
        direct = bot_message(dingtalk, "ack 1", user=ALICE, group=None)
        await say(gateway, adapter, direct, "bot-direct")
    denial, acked = dingtalk.sent
    assert denial["to"] == f"@{CAROL}" and denial["msgKey"] == "sampleText"
    assert "may not" in denial["content"]
    assert acked["to"].startswith("session:") and acked["text"]["content"] == ACKED_1
    entries = await audit(tocsin)
    assert [(e.actor, e.outcome) for e in entries] == [("carol", "denied"), ("alice", "allowed")]


async def test_an_expired_session_webhook_is_not_used(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    async with running(tocsin, gateway) as adapter:
        await open_card(tocsin, dingtalk)
        old = bot_message(dingtalk, "ack 1", webhook_expires_ms=1_000)
        await say(gateway, adapter, old, "bot-old")
    (answer,) = dingtalk.sent
    assert answer == {"to": GROUP, "msgKey": "sampleText", "content": ACKED_1}


async def test_malformed_frames_get_a_clear_refusal_and_change_nothing(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    async with running(tocsin, gateway):
        await open_card(tocsin, dingtalk)
        await gateway.send("CALLBACK", CARD_TOPIC, "{not json", message_id="bad-1")
        not_json = json.loads(await gateway.acked("bad-1"))
        await gateway.send("CALLBACK", CARD_TOPIC, {"userId": ALICE}, message_id="bad-2")
        no_params = json.loads(await gateway.acked("bad-2"))
        await gateway.send("CALLBACK", MESSAGE_TOPIC, {"msgtype": "text"}, message_id="bad-3")
        no_sender = json.loads(await gateway.acked("bad-3"))
        await gateway.send_raw("[1, 2, 3]")
        await gateway.send("SYSTEM", "ping", {"opaque": "still-here"}, message_id="ping-after")
        await gateway.acked("ping-after")
    assert (not_json["code"], not_json["message"]) == (400, "unreadable frame: JSONDecodeError")
    assert no_params["code"] == 400 and "malformed card callback" in no_params["data"]
    assert no_sender["code"] == 400 and "malformed robot message" in no_sender["data"]
    assert await audit(tocsin) == []
    assert (await incident(tocsin, 1)).status == "triggered"
    assert dingtalk.sent == []


async def test_dingtalk_is_answered_before_the_work_is_done(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    async with running(tocsin, gateway) as adapter:
        card_id = await open_card(tocsin, dingtalk)
        release = dingtalk.hold("/v1.0/card/instances")  # the answer after the work stalls here
        data = card_press(card_id, button(dingtalk, card_id, "ack"))
        await gateway.send("CALLBACK", CARD_TOPIC, data, message_id="card-slow")
        await gateway.acked("card-slow")
        await eventually(lambda: bool(dingtalk.calls_to("/v1.0/card/instances")), what="work")
        assert adapter.work.running == 1
        release.set()
        await adapter.idle()
        assert dingtalk.cards[card_id].private[ALICE] == {"notice": ACKED_1}


async def test_reconnects_after_a_failed_open_and_a_drop(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    dingtalk.fail(OPEN, status=500, body={"code": "ServiceUnavailable"})
    tocsin = make_tocsin()
    async with running(tocsin, gateway) as adapter:
        assert len(dingtalk.calls_to(OPEN)) == 2
        await gateway.drop()
        await gateway.connected(2)
        await eventually(lambda: adapter.stream is not None and adapter.stream.connections == 2)
        await eventually(lambda: adapter.connected is True, what="connected again")
        await gateway.send("SYSTEM", "ping", {"opaque": "x"}, message_id="ping-2")
        await gateway.acked("ping-2")
    assert gateway.refused == 0, "every connection used a fresh ticket"


async def test_a_silent_connection_is_found_dead_and_replaced(
    make_tocsin: Callable[..., Tocsin], gateway: FakeGateway
) -> None:
    tocsin = make_tocsin(
        ping_interval="100ms", liveness_timeout="500ms", reconnect_min="1s", reconnect_max="1s"
    )
    async with running(tocsin, gateway) as adapter:
        await eventually(lambda: adapter.connected is True, what="connected")
        gateway.go_silent()
        await eventually(lambda: adapter.connected is False, what="seen as dead")
        assert adapter.stream is not None and adapter.stream.dead == 1
        await gateway.connected(2)
        await eventually(lambda: adapter.connected is True, what="replaced")


async def test_a_disconnect_request_moves_to_a_new_connection(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin(reconnect_min="5s", reconnect_max="5s")
    async with running(tocsin, gateway):
        await gateway.send("SYSTEM", "disconnect", {"reason": "rebalance"}, message_id="bye")
        await gateway.acked("bye")
        await gateway.connected(2)  # at once: no back-off after a disconnect request
    assert len(dingtalk.calls_to(OPEN)) == 2


async def test_a_hanging_gateway_never_stalls_the_core_loop(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    release = dingtalk.hold(OPEN)  # the SDK's blocking request waits on its thread
    tocsin = make_tocsin()
    await tocsin.start(run_engine=False)
    try:
        await eventually(lambda: bool(dingtalk.calls_to(OPEN)), what="the open request")
        for _ in range(5):
            await asyncio.sleep(0.01)  # the loop keeps running meanwhile
        await tocsin.ingest.ingest([firing()])
        await tocsin.engine.tick()
        assert len(dingtalk.cards) == 1 and adapter_of(tocsin).connected is False
        release.set()
        await gateway.connected()
        await eventually(lambda: adapter_of(tocsin).connected is True, what="connected")
    finally:
        await tocsin.stop()


async def test_stopping_closes_the_connection_cleanly(
    make_tocsin: Callable[..., Tocsin], gateway: FakeGateway
) -> None:
    tocsin = make_tocsin()
    async with running(tocsin, gateway) as adapter:
        pass
    await eventually(lambda: bool(gateway.close_codes), what="the server to see a close")
    assert gateway.close_codes == [1000] and adapter.connected is False
    await asyncio.sleep(0)
    left = [
        task
        for task in asyncio.all_tasks()
        if "dingtalk" in repr(task) and task is not asyncio.current_task()
    ]
    assert left == []


async def test_http_mode_keeps_stream_only_for_card_presses(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, gateway: FakeGateway
) -> None:
    tocsin = make_tocsin(mode="http")
    async with running(tocsin, gateway):
        pass
    (opened,) = dingtalk.calls_to(OPEN)
    assert opened.body["subscriptions"] == [
        {"type": "CALLBACK", "topic": "/v1.0/card/instances/callback"}
    ]


async def test_no_stream_without_app_robot_cards(
    make_tocsin: Callable[..., Tocsin], gateway: FakeGateway
) -> None:
    tocsin = make_tocsin(mode="http", card_template_id=None)
    adapter = adapter_of(tocsin)
    await asyncio.wait_for(adapter.run(tocsin.dispatcher), timeout=5)
    assert gateway.connections == 0 and adapter.connected is None


async def test_readiness_and_metrics_show_the_stream_connection(
    make_tocsin: Callable[..., Tocsin], gateway: FakeGateway
) -> None:
    tocsin = make_tocsin(
        ping_interval="100ms", liveness_timeout="500ms", reconnect_min="2s", reconnect_max="2s"
    )
    transport = httpx.ASGITransport(app=tocsin.app)
    http = httpx.AsyncClient(transport=transport, base_url="http://tocsin.test")
    async with http, running(tocsin, gateway) as adapter:
        await eventually(lambda: adapter.connected is True, what="connected")
        ready = (await http.get("/readyz")).json()
        assert ready["status"] == "ready" and ready["chat"] == {"dingtalk": "connected"}
        metric = 'tocsin_chat_connected{platform="dingtalk"} 1.0'
        assert metric in (await http.get("/metrics")).text
        gateway.go_silent()
        await eventually(lambda: adapter.connected is False, what="seen as dead")
        down = (await http.get("/readyz")).json()
        assert down["status"] == "degraded" and down["chat"] == {"dingtalk": "disconnected"}
        assert metric.replace("1.0", "0.0") in (await http.get("/metrics")).text
