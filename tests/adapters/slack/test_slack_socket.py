"""Socket Mode through the real core: Tocsin from `bootstrap` started as it runs in production
(its background loops include the Slack connection), slack_sdk's WebSocket client against the fake
Socket Mode server, Bolt dispatching. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fake_slack import BOT_USER, FakeSlackApi, FakeSocketMode, Posted, eventually
from slack_support import (
    ALICE,
    CAROL,
    CHANNEL,
    adapter_of,
    answers,
    audit,
    block_actions,
    direct_message,
    event_callback,
    incident,
    mention,
    slash_command,
)

from adapters.chat.slack import SlackAdapter
from bot.bootstrap import Tocsin
from bot.i18n import t
from tests.support import firing


@asynccontextmanager
async def running(tocsin: Tocsin, server: FakeSocketMode) -> AsyncIterator[SlackAdapter]:
    await tocsin.start(run_engine=False)
    try:
        await server.connected()
        yield adapter_of(tocsin)
    finally:
        await tocsin.stop()


async def deliver(
    server: FakeSocketMode, adapter: SlackAdapter, kind: str, payload: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    """Send one envelope, wait for its acknowledgement and for the work it started."""
    envelope_id = await server.send(kind, payload, **kw)
    ack = await server.acked(envelope_id)
    await adapter.idle()
    return ack


async def open_card(tocsin: Tocsin, api: FakeSlackApi, name: str = "HighErrorRate") -> Posted:
    await tocsin.ingest.ingest([firing(name)])
    await tocsin.engine.tick()
    return [m for m in api.in_channel(CHANNEL) if m.blocks][-1]


def ack_button(posted: Posted) -> str:
    return next(
        e["action_id"]
        for b in posted.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("tocsin:ack:")
    )


async def test_acknowledge_press_over_socket_mode(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, socket_server: FakeSocketMode
) -> None:
    tocsin = make_tocsin(mode="socket")
    async with running(tocsin, socket_server) as adapter:
        posted = await open_card(tocsin, slack_api)
        press = block_actions(posted.blocks, ack_button(posted), ts=posted.ts, user=ALICE)
        envelope_ack = await deliver(socket_server, adapter, "interactive", press)
        assert set(envelope_ack) == {"envelope_id"}
        row = await incident(tocsin, 1)
        assert (row.status, row.acked_by) == ("acknowledged", "Alice")
        threaded = [m.text for m in slack_api.in_channel(CHANNEL) if m.thread_ts == posted.ts]
        assert threaded == [t("incident.acked", "en", id=1, user="Alice")]
        await tocsin.engine.tick()
        assert slack_api.messages[(CHANNEL, posted.ts)].updates == 1
        (entry,) = await audit(tocsin)
        assert (entry.actor, entry.action, entry.outcome) == ("alice", "button:ack", "allowed")


async def test_a_press_without_the_grant_over_socket_mode(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, socket_server: FakeSocketMode
) -> None:
    tocsin = make_tocsin(mode="socket")
    async with running(tocsin, socket_server) as adapter:
        posted = await open_card(tocsin, slack_api)
        press = block_actions(posted.blocks, ack_button(posted), ts=posted.ts, user=CAROL)
        await deliver(socket_server, adapter, "interactive", press)
        await tocsin.engine.tick()
    (denial,) = slack_api.ephemerals
    assert denial["user"] == CAROL and denial["channel"] == CHANNEL
    assert (await incident(tocsin, 1)).status == "triggered"
    assert slack_api.messages[(CHANNEL, posted.ts)].updates == 0
    assert [e.outcome for e in await audit(tocsin)] == ["denied"]


async def test_slash_command_and_mention_over_socket_mode(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, socket_server: FakeSocketMode
) -> None:
    tocsin = make_tocsin(mode="socket")
    async with running(tocsin, socket_server) as adapter:
        await open_card(tocsin, slack_api, "First")
        await open_card(tocsin, slack_api, "Second")
        deploy = slash_command(slack_api, "/deploy", "orders v1.4.2 prod")
        await deliver(socket_server, adapter, "slash_commands", deploy)
        said = event_callback(mention(f"<@{BOT_USER}> deploy orders v1.4.2 prod"))
        await deliver(socket_server, adapter, "events_api", said)
        await deliver(
            socket_server, adapter, "slash_commands", slash_command(slack_api, "/ack", "1")
        )
        ack_2 = event_callback(mention(f"<@{BOT_USER}> ack 2"))
        await deliver(socket_server, adapter, "events_api", ack_2)
    deploy_slash, ack_slash = slack_api.hooks
    deploy_mention = next(
        answer for answer in answers(slack_api)[2:] if "deploy" in answer[0].lower()
    )
    assert (deploy_slash["text"], deploy_slash["response_type"] == "ephemeral") == deploy_mention
    assert ack_slash["response_type"] == "in_channel"
    assert [(await incident(tocsin, n)).status for n in (1, 2)] == ["acknowledged"] * 2
    entries = await audit(tocsin)
    assert [e.target for e in entries] == [
        "/deploy orders v1.4.2 prod",
        "/deploy orders v1.4.2 prod",
        "/ack 1",
        "/ack 2",
    ]
    assert entries[0].outcome == entries[1].outcome


async def test_commands_in_a_direct_message(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, socket_server: FakeSocketMode
) -> None:
    slack_api.channels.add("D0ALICE")
    tocsin = make_tocsin(mode="socket")
    async with running(tocsin, socket_server) as adapter:
        await open_card(tocsin, slack_api)
        await deliver(socket_server, adapter, "events_api", event_callback(direct_message("ack 1")))
        shown = event_callback(direct_message("@tocsin incident 1"))
        await deliver(socket_server, adapter, "events_api", shown)
        bots_own = direct_message("ack 1") | {"bot_id": "B0TOCSIN", "user": BOT_USER}
        await deliver(socket_server, adapter, "events_api", event_callback(bots_own))
    acked, shown = slack_api.in_channel("D0ALICE")[:2]  # the live card follows through the outbox
    assert acked.text == t("incident.acked", "en", id=1, user="Alice") and not acked.blocks
    assert shown.text.startswith("Incident #1 HighErrorRate")
    assert slack_api.ephemerals == []
    assert [e.target for e in await audit(tocsin)] == ["/ack 1", "/incident 1"]


async def test_a_redelivered_event_is_processed_once(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, socket_server: FakeSocketMode
) -> None:
    tocsin = make_tocsin(mode="socket")
    async with running(tocsin, socket_server) as adapter:
        await open_card(tocsin, slack_api)
        event = event_callback(mention(f"<@{BOT_USER}> ack 1"), event_id="EvONCE")
        await deliver(socket_server, adapter, "events_api", event)
        await deliver(socket_server, adapter, "events_api", event, retry_attempt=1)
    texts = [m.text for m in slack_api.in_channel(CHANNEL) if not m.blocks]
    assert texts == [t("incident.acked", "en", id=1, user="Alice")]
    assert len(await audit(tocsin)) == 1


async def test_slack_is_answered_before_the_work_is_done(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, socket_server: FakeSocketMode
) -> None:
    tocsin = make_tocsin(mode="socket")
    async with running(tocsin, socket_server) as adapter:
        posted = await open_card(tocsin, slack_api)
        release = slack_api.hold("users.info")  # the work after the ack stalls here
        press = block_actions(posted.blocks, ack_button(posted), ts=posted.ts, user=ALICE)
        envelope_id = await socket_server.send("interactive", press)
        await socket_server.acked(envelope_id)
        await eventually(lambda: bool(slack_api.calls_to("users.info")), what="the work")
        assert (await incident(tocsin, 1)).status == "triggered"
        assert adapter.work.running == 1
        release.set()
        await adapter.idle()
        assert (await incident(tocsin, 1)).status == "acknowledged"


async def test_reconnects_after_a_drop_and_a_failed_connect(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, socket_server: FakeSocketMode
) -> None:
    slack_api.fail("apps.connections.open", status=500)
    tocsin = make_tocsin(mode="socket")
    async with running(tocsin, socket_server) as adapter:
        assert len(slack_api.calls_to("apps.connections.open")) == 2
        await socket_server.drop()
        await socket_server.connected(2)
        assert adapter.socket is not None
        await eventually(lambda: adapter.socket is not None and adapter.socket.connections == 2)
        ack = await deliver(
            socket_server, adapter, "slash_commands", slash_command(slack_api, "/tocsin", "")
        )
        assert "envelope_id" in ack
    (hook,) = slack_api.hooks
    assert hook["response_type"] == "ephemeral" and hook["text"]  # /tocsin alone is help
    assert slack_api.calls_to("apps.connections.open")[-1].token == slack_api.app_token


async def test_a_disconnect_request_moves_to_a_fresh_url(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, socket_server: FakeSocketMode
) -> None:
    tocsin = make_tocsin(mode="socket")
    async with running(tocsin, socket_server) as adapter:
        await socket_server.send_raw({"type": "disconnect", "reason": "refresh_requested"})
        await socket_server.connected(2)
        await eventually(lambda: socket_server.close_codes == [1000], what="the old socket closed")
        ack = await deliver(
            socket_server, adapter, "slash_commands", slash_command(slack_api, "/tocsin", "help")
        )
        assert "envelope_id" in ack
        assert socket_server.connections == 2, "moved once, not twice"
        assert len(slack_api.calls_to("apps.connections.open")) == 2


async def test_stopping_closes_the_connection_cleanly(
    make_tocsin: Callable[..., Tocsin], socket_server: FakeSocketMode
) -> None:
    tocsin = make_tocsin(mode="socket")
    async with running(tocsin, socket_server):
        pass
    await eventually(lambda: bool(socket_server.close_codes), what="the server to see a close")
    assert socket_server.close_codes == [1000]
    await asyncio.sleep(0)
    left = [
        task
        for task in asyncio.all_tasks()
        if "slack" in repr(task.get_coro()) and task is not asyncio.current_task()
    ]
    assert left == []


async def test_http_mode_runs_no_socket(
    make_tocsin: Callable[..., Tocsin], socket_server: FakeSocketMode
) -> None:
    tocsin = make_tocsin(mode="http")
    await asyncio.wait_for(adapter_of(tocsin).run(tocsin.dispatcher), timeout=1)
    assert socket_server.connections == 0


async def test_readiness_and_metrics_show_the_connection(
    make_tocsin: Callable[..., Tocsin], socket_server: FakeSocketMode, slack_api: FakeSlackApi
) -> None:
    tocsin = make_tocsin(mode="socket")
    transport = httpx.ASGITransport(app=tocsin.app)
    gauge = 'tocsin_chat_connected{platform="slack"}'
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as http,
        running(tocsin, socket_server) as adapter,
    ):
        await eventually(lambda: adapter.connected is True, what="connected")
        ready = (await http.get("/readyz")).json()
        assert ready["status"] == "ready" and ready["chat"] == {"slack": "connected"}
        assert f"{gauge} 1.0" in (await http.get("/metrics")).text
        # Slack refuses new connections for a while, so the client stays down while we look.
        slack_api.fail("apps.connections.open", error="service_unavailable", times=1000)
        await socket_server.drop()
        await eventually(lambda: adapter.connected is False, what="seen as down")
        down = (await http.get("/readyz")).json()
        assert down["status"] == "degraded" and down["chat"] == {"slack": "disconnected"}
        assert f"{gauge} 0.0" in (await http.get("/metrics")).text
        slack_api.failures["apps.connections.open"].clear()
