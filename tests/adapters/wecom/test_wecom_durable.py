"""Commands and presses are stored before WeCom is answered, and a request whose process died
before handling it is taken over by another replica and answered through its stored route.

Through the real HTTP callbacks, encrypted and signed as WeCom sends them, against the fake
WeCom API; the takeovers run on the real core (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fake_wecom import FakeWeCom, Sent, eventually
from sqlalchemy import select
from starlette.applications import Starlette
from wecom_support import (
    Signed,
    adapter_of,
    aibot_press,
    aibot_text,
    app_side,
    audit,
    bot_side,
    incident,
    key_of,
    press_xml,
    text_xml,
    wecom_section,
)

from adapters.chat.wecom import WeComAdapter, create
from adapters.chat.wecom.keys import action_key
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.dispatch import Dispatcher
from bot.errors import DatabaseUnavailable
from bot.i18n import t
from bot.inbox import LEASE, Request, Resume
from bot.model import ActionKind, CardActionRequest, CommandRequest, Reply
from bot.replay import MemoryReplays
from bot.store.tables import inbox
from tests.support import firing

APP, AIBOT = "/wecom/callback", "/wecom/aibot/callback"
ACKED = t("incident.acked", "en", id=1, user="Alice")
PRESS_KEY = action_key("incident:1", ActionKind.ACK, "", 0, step="press")


class Recording:
    """An inbound handler recording, in order, what it stored and handled. Its `accept` can be
    held until `stored` is set, or fail with `failure`."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.routes: list[dict[str, Any]] = []
        self.stored: asyncio.Event | None = None
        self.failure: Exception | None = None
        self.resumers: dict[str, Resume] = {}

    async def accept(self, request: Request, route: dict[str, Any]) -> bool:
        if self.failure is not None:
            raise self.failure
        if self.stored is not None:
            self.events.append("storing")
            await self.stored.wait()
        self.events.append(f"accept {request.event_id}")
        self.routes.append(route)
        return True

    def on_resume(self, platform: str, resume: Resume) -> None:
        self.resumers[platform] = resume

    async def command(self, request: CommandRequest) -> Reply:
        self.events.append(f"command {request.event_id}")
        return Reply("done")

    async def action(self, request: CardActionRequest) -> Reply:
        self.events.append(f"action {request.event_id}")
        return Reply("pressed")


def callback(kind: str, clock: FakeClock) -> tuple[str, Signed, str]:
    """The path, the signed callback and the surface for one kind of request."""
    now = int(clock.now().timestamp())
    if kind == "app text":
        return APP, app_side(clock).app_xml(text_xml("alice", "ack 1", create_time=now)), "app"
    if kind == "app press":
        plain = press_xml("alice", "task-1", PRESS_KEY, "code-1", create_time=now)
        return APP, app_side(clock).app_xml(plain), "app"
    if kind == "aibot text":
        return AIBOT, bot_side(clock).aibot(aibot_text("@Tocsin ack 1")), "aibot"
    return AIBOT, bot_side(clock).aibot(aibot_press("task-1", PRESS_KEY)), "aibot"


KINDS = ["app text", "app press", "aibot text", "aibot press"]


@asynccontextmanager
async def serving(
    api: FakeWeCom, clock: FakeClock, inbound: Recording
) -> AsyncIterator[tuple[WeComAdapter, httpx.AsyncClient]]:
    adapter = create(wecom_section(api), clock=clock, replays=MemoryReplays())
    app = Starlette(routes=adapter.routes(inbound))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        yield adapter, client
    await adapter.aclose()


@pytest.mark.parametrize("kind", KINDS)
async def test_wecom_is_answered_only_once_the_request_is_stored(
    wecom_api: FakeWeCom, clock: FakeClock, kind: str
) -> None:
    inbound = Recording()
    inbound.stored = asyncio.Event()
    path, signed, surface = callback(kind, clock)
    async with serving(wecom_api, clock, inbound) as (adapter, client):
        answer = asyncio.create_task(client.post(path, params=signed.params, content=signed.body))
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert inbound.events == ["storing"]
        assert not answer.done(), "no answer to WeCom while the request is not stored"
        inbound.stored.set()
        response = await answer
        await adapter.idle()
    assert response.status_code == 200
    storing, accepted, handled = inbound.events
    assert (
        storing == "storing"
        and accepted.startswith("accept ")
        and handled.split()[0] in ("command", "action")
    )
    assert accepted.split()[1] == handled.split()[1], "the request stored is the one handled"
    assert inbound.resumers, "the adapter registered how it takes requests over"
    (route,) = inbound.routes
    assert route["surface"] == surface and route["user"] == "alice"
    if kind == "app press":
        assert (route["task_id"], route["response_code"]) == ("task-1", "code-1")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_request_that_cannot_be_stored_is_not_acknowledged(
    wecom_api: FakeWeCom, clock: FakeClock, kind: str
) -> None:
    inbound = Recording()
    inbound.failure = DatabaseUnavailable("connection refused")
    path, signed, _surface = callback(kind, clock)
    async with serving(wecom_api, clock, inbound) as (adapter, client):
        refused = await client.post(path, params=signed.params, content=signed.body)
        await adapter.idle()
        assert refused.status_code == 503, "WeCom must send it again"
        assert inbound.events == [], "nothing handled"
        assert wecom_api.calls == [], "nobody told anything"
        inbound.failure = None  # the database is back when WeCom sends it again
        retried = await client.post(path, params=signed.params, content=signed.body)
        await adapter.idle()
    assert retried.status_code == 200, "the retry is not refused as a replay"
    accepted, handled = inbound.events
    assert accepted.startswith("accept ") and handled.split()[0] in ("command", "action")


# -- takeovers on the real core -------------------------------------------------------------------


class Dying:
    """A process that stores what WeCom sends it (in the real inbox) and dies before handling
    it: the handling never ends, until the process is stopped."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.accepted: list[str] = []
        self.handling: list[str] = []

    async def accept(self, request: Request, route: dict[str, Any]) -> bool:
        self.accepted.append(request.event_id)
        return await self.dispatcher.accept(request, route)

    def on_resume(self, platform: str, resume: Resume) -> None:
        pass

    async def command(self, request: CommandRequest) -> Reply:
        return await self._die(request)

    async def action(self, request: CardActionRequest) -> Reply:
        return await self._die(request)

    async def _die(self, request: Request) -> Reply:
        self.handling.append(request.event_id)
        await asyncio.Event().wait()
        raise AssertionError("never handled")


@asynccontextmanager
async def dying_replica(tocsin: Tocsin) -> AsyncIterator[httpx.AsyncClient]:
    """`tocsin`'s WeCom callbacks, served by a process that dies once the block ends."""
    adapter, dying = adapter_of(tocsin), Dying(tocsin.dispatcher)
    app = Starlette(routes=adapter.routes(dying))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://one.test") as client:
        yield client
    await eventually(lambda: dying.handling == dying.accepted, what="the work to start")
    await adapter.work.aclose(grace=0)  # killed while handling: what it was doing is gone


async def post(client: httpx.AsyncClient, path: str, signed: Signed) -> httpx.Response:
    return await client.post(path, params=signed.params, content=signed.body)


async def inbox_rows(tocsin: Tocsin) -> list[Any]:
    async with tocsin.services.db.connect() as conn:
        return list((await conn.execute(select(inbox).order_by(inbox.c.id))).all())


async def take_over(tocsin: Tocsin, clock: FakeClock) -> None:
    """The lease of the dead process ends; `tocsin` takes its requests over and delivers."""
    clock.advance(LEASE + timedelta(seconds=1))
    await tocsin.dispatcher.resume()
    await adapter_of(tocsin).idle()
    await tocsin.engine.tick()


async def page(tocsin: Tocsin, api: FakeWeCom) -> Sent:
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    return api.cards_to("alice")[-1]


async def test_a_press_left_by_a_dead_process_is_answered_through_its_route(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    one, two = make_tocsin(), make_tocsin()  # two replicas on one database
    card = await page(two, wecom_api)
    code = wecom_api.press_code(card.task_id)
    stamp = int(clock.now().timestamp())
    plain = press_xml("alice", card.task_id, key_of(card.card, "ack"), code, create_time=stamp)
    async with dying_replica(one) as client:
        answered = await post(client, APP, app_side(clock).app_xml(plain))
        assert answered.status_code == 200
        (row,) = await inbox_rows(one)
        assert row.state == "pending", "stored when WeCom got its answer"
        assert row.route["surface"] == "app"
        assert (row.route["task_id"], row.route["response_code"]) == (card.task_id, code)
    assert await audit(two) == [] and (await incident(two, 1)).status == "triggered"

    await take_over(two, clock)
    assert (await incident(two, 1)).status == "acknowledged"
    assert [(e.action, e.outcome) for e in await audit(two)] == [("button:ack", "allowed")]
    assert wecom_api.texts_to("alice") == [ACKED], "the presser is answered"
    (update,) = wecom_api.calls_to("message/update_template_card")
    assert update.body["response_code"] == code, "the press's own code, from the stored route"
    assert update.body["userids"] == ["alice"]
    assert card.card["main_title"]["desc"].startswith("🔵 Acknowledged")
    (row,) = await inbox_rows(two)
    assert (row.state, row.attempts) == ("done", 2)

    async with _open(two) as client:  # WeCom sends it again
        again = await post(client, APP, app_side(clock).app_xml(plain))
        await adapter_of(two).idle()
    await two.engine.tick()
    assert again.status_code == 200
    assert wecom_api.texts_to("alice") == [ACKED]
    assert len(await audit(two)) == 1
    assert len(wecom_api.calls_to("message/update_template_card")) == 1


async def test_a_command_left_by_a_dead_process_is_answered_through_its_route(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    one, two = make_tocsin(), make_tocsin()
    await page(two, wecom_api)
    text = app_side(clock).app_xml(
        text_xml("alice", "ack 1", create_time=int(clock.now().timestamp()), msgid="900001")
    )
    async with dying_replica(one) as client:
        assert (await post(client, APP, text)).status_code == 200
    assert wecom_api.texts_to("alice") == []

    await take_over(two, clock)
    assert (await incident(two, 1)).status == "acknowledged"
    assert [(e.action, e.outcome) for e in await audit(two)] == [("command:ack", "allowed")]
    assert wecom_api.texts_to("alice") == [ACKED]

    resent = app_side(clock).app_xml(
        text_xml("alice", "ack 1", create_time=int(clock.now().timestamp()), msgid="900001")
    )
    async with _open(two) as client:
        assert (await post(client, APP, resent)).status_code == 200
        await adapter_of(two).idle()
    assert wecom_api.texts_to("alice") == [ACKED]
    assert len(await audit(two)) == 1


async def test_an_ai_bot_command_left_by_a_dead_process_is_answered_by_response_url(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    quick = {**wecom_section(wecom_api)["aibot"], "reply_within": "50ms"}
    one, two = make_tocsin(aibot=quick), make_tocsin()
    await page(two, wecom_api)
    message = aibot_text("@Tocsin ack 1", response_url=wecom_api.response_url())
    async with dying_replica(one) as client:
        answered = await post(client, AIBOT, bot_side(clock).aibot(message))
        assert (answered.status_code, answered.text) == (200, ""), "no passive reply in time"
    (row,) = await inbox_rows(one)
    assert (row.route["surface"], row.route["chatid"]) == ("aibot", "CHAT-OPS")

    await take_over(two, clock)
    assert (await incident(two, 1)).status == "acknowledged"
    assert [(e.action, e.outcome) for e in await audit(two)] == [("command:ack", "allowed")]
    ((_code, body),) = wecom_api.responses
    assert body == {"msgtype": "markdown", "markdown": {"content": ACKED}}

    async with _open(two) as client:  # WeCom sends it again
        again = await post(client, AIBOT, bot_side(clock).aibot(message))
        await adapter_of(two).idle()
    assert (again.status_code, again.text) == (200, "")
    assert len(wecom_api.responses) == 1 and len(await audit(two)) == 1


@asynccontextmanager
async def _open(tocsin: Tocsin) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=tocsin.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://two.test") as client:
        yield client
