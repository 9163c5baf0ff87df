"""Presses and commands are stored before Slack is told OK, and taken over after the inbox's lease
when the process that took them died: through the real Bolt app, signed HTTP requests and Socket
Mode envelopes, the real dispatcher (from `bootstrap`) and the fake Slack. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from fake_slack import BOT_USER, FakeSlackApi, FakeSocketMode, Posted, eventually
from slack_support import (
    ALICE,
    CHANNEL,
    RecordingInbound,
    adapter_of,
    audit,
    block_actions,
    event_callback,
    form,
    incident,
    interactive,
    mention,
    settings,
    signed_headers,
    slash_command,
)
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.types import ASGIApp

from adapters.chat.slack import SlackAdapter, create
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.i18n import t
from bot.inbox import LEASE
from bot.replay import ReplayGuard
from bot.store.db import Database
from bot.store.tables import inbox
from tests.support import firing

JSON = "application/json"
ACKED_1 = t("incident.acked", "en", id=1, user="Alice")
AFTER_LEASE = LEASE + timedelta(seconds=1)


@asynccontextmanager
async def http(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        yield client


async def post(
    client: httpx.AsyncClient, clock: FakeClock, body: bytes, content_type: str = ""
) -> httpx.Response:
    """`body` as Slack sends it, signed now; the answer as soon as Slack would have it."""
    kind = content_type or "application/x-www-form-urlencoded"
    headers = signed_headers(body, timestamp=clock.now().timestamp(), content_type=kind)
    return await client.post("/slack/events", content=body, headers=headers)


async def open_card(tocsin: Tocsin, api: FakeSlackApi) -> Posted:
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    return [m for m in api.in_channel(CHANNEL) if m.blocks][-1]


def press_of(posted: Posted) -> dict[str, Any]:
    ack = next(
        e["action_id"]
        for b in posted.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("tocsin:ack:")
    )
    return block_actions(posted.blocks, ack, ts=posted.ts, user=ALICE)


async def stored(tocsin: Tocsin) -> list[Any]:
    async with tocsin.services.db.connect() as conn:
        return list((await conn.execute(select(inbox).order_by(inbox.c.id))).all())


def threaded(api: FakeSlackApi, ts: str) -> list[str]:
    return [m.text for m in api.in_channel(CHANNEL) if m.thread_ts == ts]


async def die(adapter: SlackAdapter, api: FakeSlackApi) -> None:
    """The process stops in the middle of its work (held at ``users.info``): nothing it started
    finishes."""
    await eventually(lambda: bool(api.calls_to("users.info")), what="the work to start")
    await adapter.work.aclose(grace=0)


# -- stored before the acknowledgement ----------------------------------------------------------


async def test_a_press_is_stored_before_slack_is_answered(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    posted = await open_card(tocsin, slack_api)
    recording = RecordingInbound(tocsin.dispatcher)
    adapter = adapter_of(tocsin)
    release = slack_api.hold("users.info")  # the work after the answer stalls here
    async with http(Starlette(routes=adapter.routes(recording))) as client:
        response = await post(client, clock, interactive(press_of(posted)))
    recording.events.append(("answered", str(response.status_code)))
    assert response.status_code == 200
    [row] = await stored(tocsin)
    assert (row.state, row.kind, row.route["channel"], row.route["thread_ts"]) == (
        "pending",
        "action",
        CHANNEL,
        posted.ts,
    )
    release.set()
    await adapter.idle()
    assert recording.kinds() == ["accept", "answered", "action"]
    assert (await incident(tocsin, 1)).status == "acknowledged"
    assert [r.state for r in await stored(tocsin)] == ["done"]


async def test_a_request_that_cannot_be_stored_is_not_acknowledged_over_http(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    posted = await open_card(tocsin, slack_api)
    recording = RecordingInbound(tocsin.dispatcher)
    adapter = adapter_of(tocsin)
    said = event_callback(mention(f"<@{BOT_USER}> ack 1"), event_id="EvDOWN")
    event = json.dumps(said).encode()
    async with http(Starlette(routes=adapter.routes(recording))) as client:
        recording.failing = True
        refused = [
            await post(client, clock, interactive(press_of(posted))),
            await post(client, clock, form(slash_command(slack_api, "/ack", "1"))),
            await post(client, clock, event, JSON),
        ]
        await adapter.idle()
        assert [r.status_code for r in refused] == [500, 500, 500], "Slack is not told OK"
        assert recording.kinds() == ["refused"] * 3, "and nothing is handled"
        assert (await incident(tocsin, 1)).status == "triggered"
        assert await audit(tocsin) == [] and await stored(tocsin) == []
        assert slack_api.hooks == [] and threaded(slack_api, posted.ts) == []

        recording.failing = False  # the database is back; Slack retries its event
        clock.advance(timedelta(seconds=60))
        again = await post(client, clock, event, JSON)
        await adapter.idle()
    assert again.status_code == 200
    assert recording.kinds()[3:] == ["accept", "command"]
    assert (await incident(tocsin, 1)).status == "acknowledged"
    assert [(e.target, e.outcome) for e in await audit(tocsin)] == [("/ack 1", "allowed")]


# -- taken over after the lease -----------------------------------------------------------------


async def test_a_press_left_by_a_dead_process_is_answered_by_another_replica(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, clock: FakeClock
) -> None:
    first, other = make_tocsin(mode="http"), make_tocsin(mode="http")
    posted = await open_card(first, slack_api)
    press = interactive(press_of(posted))
    release = slack_api.hold("users.info")
    async with http(first.app) as client:
        assert (await post(client, clock, press)).status_code == 200
    await die(adapter_of(first), slack_api)
    release.set()
    assert (await incident(first, 1)).status == "triggered"
    await other.dispatcher.resume()
    assert [r.state for r in await stored(other)] == ["pending"], "still leased to the first"

    clock.advance(AFTER_LEASE)
    await other.dispatcher.resume()
    await adapter_of(other).idle()
    assert threaded(slack_api, posted.ts) == [ACKED_1], "answered under the card, as stored"
    row = await incident(other, 1)
    assert (row.status, row.acked_by) == ("acknowledged", "Alice")
    assert [(e.action, e.outcome) for e in await audit(other)] == [("button:ack", "allowed")]
    [entry] = await stored(other)
    assert (entry.state, entry.attempts) == ("done", 2)

    async with http(other.app) as client:  # Slack's re-delivery of the same press
        clock.advance(timedelta(seconds=1))
        assert (await post(client, clock, press)).status_code == 200
    await adapter_of(other).idle()
    clock.advance(AFTER_LEASE)
    await other.engine.tick()
    await adapter_of(other).idle()
    assert threaded(slack_api, posted.ts) == [ACKED_1]
    assert len(await audit(other)) == 1
    assert slack_api.ephemerals == []


async def test_a_slash_command_left_by_a_dead_process_answers_through_its_response_url(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, clock: FakeClock
) -> None:
    first, other = make_tocsin(mode="http"), make_tocsin(mode="http")
    await open_card(first, slack_api)
    command = slash_command(slack_api, "/ack", "1")
    release = slack_api.hold("users.info")
    async with http(first.app) as client:
        assert (await post(client, clock, form(command))).status_code == 200
    await die(adapter_of(first), slack_api)
    release.set()
    [entry] = await stored(first)
    assert entry.route["response_url"] == command["response_url"]

    clock.advance(AFTER_LEASE)
    await other.engine.tick()  # the engine's inbox pass
    await adapter_of(other).idle()
    [hook] = slack_api.hooks
    assert (hook["name"], hook["response_type"], hook["text"]) == (
        command["response_url"].rsplit("/", 1)[-1],
        "in_channel",
        ACKED_1,
    )
    assert (await incident(other, 1)).status == "acknowledged"
    assert [(e.target, e.outcome) for e in await audit(other)] == [("/ack 1", "allowed")]

    async with http(other.app) as client:  # the same command delivered again
        clock.advance(timedelta(seconds=1))
        assert (await post(client, clock, form(command))).status_code == 200
    await adapter_of(other).idle()
    assert len(slack_api.hooks) == 1 and len(await audit(other)) == 1


# -- Socket Mode --------------------------------------------------------------------------------


@asynccontextmanager
async def connected(
    adapter: SlackAdapter, inbound: RecordingInbound, server: FakeSocketMode
) -> AsyncIterator[None]:
    task = asyncio.create_task(adapter.run(inbound))
    try:
        await server.connected()
        await eventually(lambda: adapter.connected is True, what="connected")
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_socket_mode_acknowledges_only_what_was_stored(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, socket_server: FakeSocketMode
) -> None:
    tocsin = make_tocsin(mode="socket")
    posted = await open_card(tocsin, slack_api)
    adapter = adapter_of(tocsin)
    recording = RecordingInbound(tocsin.dispatcher)
    async with connected(adapter, recording, socket_server):
        recording.failing = True
        envelope = await socket_server.send("interactive", press_of(posted))
        await eventually(lambda: recording.kinds() == ["refused"], what="the refused accept")
        await asyncio.sleep(0.2)
        assert envelope not in socket_server.acks, "Slack is not told OK"
        assert await stored(tocsin) == [] and await audit(tocsin) == []

        recording.failing = False
        release = slack_api.hold("users.info")
        said = event_callback(mention(f"<@{BOT_USER}> ack 1"), event_id="EvSOCKET")
        sent = await socket_server.send("events_api", said)
        await socket_server.acked(sent)
        recording.events.append(("acked", sent))
        [row] = await stored(tocsin)
        assert row.state == "pending" and row.route["channel"] == CHANNEL
        release.set()
        await adapter.idle()
    assert recording.kinds() == ["refused", "accept", "acked", "command"]
    assert (await incident(tocsin, 1)).status == "acknowledged"
    assert [e.outcome for e in await audit(tocsin)] == ["allowed"]


# -- replays ------------------------------------------------------------------------------------


async def test_a_replayed_request_is_refused_by_every_replica(
    make_tocsin: Callable[..., Tocsin],
    slack_api: FakeSlackApi,
    clock: FakeClock,
    db: Database,
) -> None:
    first, other = make_tocsin(mode="http"), make_tocsin(mode="http")
    posted = await open_card(first, slack_api)
    raw = settings(slack_api, mode="http").slack
    assert raw is not None

    adapters = [
        create(raw, clock=clock, replays=ReplayGuard(db, clock, "slack:replay")) for _ in "12"
    ]
    apps = [
        Starlette(routes=a.routes(t.dispatcher))
        for a, t in zip(adapters, (first, other), strict=True)
    ]
    body = interactive(press_of(posted))
    headers = signed_headers(body, timestamp=clock.now().timestamp())
    async with http(apps[0]) as one, http(apps[1]) as two:
        accepted = await one.post("/slack/events", content=body, headers=headers)
        replayed = await two.post("/slack/events", content=body, headers=headers)
    for adapter in adapters:
        await adapter.idle()
    assert (accepted.status_code, replayed.status_code) == (200, 401)
    assert threaded(slack_api, posted.ts) == [ACKED_1]
    assert [(e.action, e.outcome) for e in await audit(first)] == [("button:ack", "allowed")]
