"""The long connection's life: lark-oapi's `lark.ws.Client` on its own thread and loop against the
fake WebSocket (discovered through the fake's ``/callback/ws/endpoint``), started and stopped with
Tocsin as in production — reconnecting, restarting, stopping cleanly, and reporting its state."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import lark_oapi.ws.client as sdk_ws
from fake_feishu import FakeLongConnection, FakeOpenApi, eventually
from feishu_support import CHAT, LongConnection, adapter_of, card_press, incident

from adapters.chat.feishu import FeishuAdapter
from bot.bootstrap import Tocsin
from tests.support import firing

ENDPOINT = "POST /callback/ws/endpoint"


@asynccontextmanager
async def running(tocsin: Tocsin, server: FakeLongConnection) -> AsyncIterator[FeishuAdapter]:
    await tocsin.start(run_engine=False)
    try:
        await server.connected()
        yield adapter_of(tocsin)
    finally:
        await tocsin.stop()


def feishu_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "feishu-long-connection"]


async def test_discovery_and_pings(
    make_tocsin: Callable[..., Tocsin], open_api: FakeOpenApi, ws_server: FakeLongConnection
) -> None:
    open_api.ping_interval = 1
    tocsin = make_tocsin(mode="long_connection")
    async with running(tocsin, ws_server) as adapter:
        (discovery,) = open_api.calls_to(ENDPOINT)
        assert discovery.body == {"AppID": open_api.app_id, "AppSecret": open_api.app_secret}
        await eventually(lambda: ws_server.pings >= 1, what="a ping")
        assert adapter.connected is True
        assert adapter.connection is not None and adapter.connection.starts == 1


async def test_reconnects_after_a_drop(
    make_tocsin: Callable[..., Tocsin], open_api: FakeOpenApi, ws_server: FakeLongConnection
) -> None:
    tocsin = make_tocsin(mode="long_connection")
    async with running(tocsin, ws_server) as adapter:
        await ws_server.drop()
        await ws_server.connected(2)
        await tocsin.ingest.ingest([firing()])
        await tocsin.engine.tick()
        (card,) = open_api.cards_in(CHAT)
        answer = await LongConnection(ws_server, adapter, open_api).send(card_press(card, "ack"))
        assert answer.status == 200 and answer.body["toast"]["type"] == "success"
        assert (await incident(tocsin, 1)).status == "acknowledged"
        assert adapter.connection is not None and adapter.connection.starts == 1, "the SDK did it"


async def test_a_start_that_fails_is_tried_again(
    make_tocsin: Callable[..., Tocsin], open_api: FakeOpenApi, ws_server: FakeLongConnection
) -> None:
    open_api.fail(ENDPOINT, code=10014, msg="app secret invalid")
    tocsin = make_tocsin(mode="long_connection", restart_delay="100ms")
    async with running(tocsin, ws_server) as adapter:
        assert len(open_api.calls_to(ENDPOINT)) == 2
        assert adapter.connection is not None and adapter.connection.starts == 2
        # the server sees the socket a moment before the SDK's thread marks it connected
        await eventually(lambda: adapter.connected is True, what="the connection marked up")


async def test_stopping_closes_the_connection_and_the_thread(
    make_tocsin: Callable[..., Tocsin], ws_server: FakeLongConnection
) -> None:
    module_loop = sdk_ws.loop
    tocsin = make_tocsin(mode="long_connection")
    async with running(tocsin, ws_server):
        (thread,) = feishu_threads()
        assert sdk_ws.loop is not module_loop, "the client runs on its own loop"
    await eventually(lambda: bool(ws_server.close_codes), what="the server to see a close")
    assert ws_server.close_codes == [1000]
    assert not thread.is_alive() and feishu_threads() == []
    assert sdk_ws.loop is module_loop, "lark-oapi's loop is given back"
    await asyncio.sleep(0.2)
    assert ws_server.connections == 1, "no reconnection after the stop"


async def test_webhook_mode_runs_no_connection(
    make_tocsin: Callable[..., Tocsin], ws_server: FakeLongConnection
) -> None:
    tocsin = make_tocsin(mode="webhook")
    adapter = adapter_of(tocsin)
    await asyncio.wait_for(adapter.run(tocsin.dispatcher), timeout=1)
    assert ws_server.connections == 0 and adapter.connected is None


async def test_readiness_and_metrics_show_the_connection(
    make_tocsin: Callable[..., Tocsin], ws_server: FakeLongConnection
) -> None:
    tocsin = make_tocsin(mode="long_connection")
    transport = httpx.ASGITransport(app=tocsin.app)
    gauge = 'tocsin_chat_connected{platform="feishu"}'
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as http,
        running(tocsin, ws_server) as adapter,
    ):
        ready = (await http.get("/readyz")).json()
        assert ready["status"] == "ready" and ready["chat"] == {"feishu": "connected"}
        assert f"{gauge} 1.0" in (await http.get("/metrics")).text
        await ws_server.close()  # Feishu goes away: the SDK keeps trying, the state says so
        await eventually(lambda: adapter.connected is False, what="seen as down")
        down = (await http.get("/readyz")).json()
        assert down["status"] == "degraded" and down["chat"] == {"feishu": "disconnected"}
        assert f"{gauge} 0.0" in (await http.get("/metrics")).text
