"""Presses and commands are stored before Feishu is told OK, and a request whose process died
after storing it is carried out, once, by another replica after its lease — through Tocsin from
`bootstrap` (the real dispatcher and inbox, on SQLite and PostgreSQL), the real lark-oapi on
both transports, and the fake Feishu."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fake_feishu import FakeLongConnection, FakeOpenApi, Message
from feishu_support import (
    ALICE,
    CHAT,
    Feishu,
    LongConnection,
    Webhook,
    adapter_of,
    audit,
    card_press,
    incident,
    message_event,
)
from sqlalchemy import select
from starlette.applications import Starlette

from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.errors import DatabaseUnavailable
from bot.i18n import t
from bot.inbox import LEASE, Request, Resume
from bot.model import CardActionRequest, CommandRequest, Reply
from bot.store.tables import inbox
from tests.support import firing

ACKED = t("incident.acked", "en", id=1, user="Alice")
AFTER_THE_LEASE = LEASE + timedelta(seconds=1)


class Process:
    """One Tocsin process's view of the real dispatcher: its database may be down (`down`:
    storing fails), and its handling may stall (`held` not set) or never come (`dies`: the
    process is killed while handling, see `kill`)."""

    def __init__(self, tocsin: Tocsin, *, dies: bool = False) -> None:
        self.core, self.dies = tocsin.dispatcher, dies
        self.down = False
        self.held = asyncio.Event()
        self.held.set()

    async def command(self, request: CommandRequest) -> Reply:
        await self._handling()
        return await self.core.command(request)

    async def action(self, request: CardActionRequest) -> Reply:
        await self._handling()
        return await self.core.action(request)

    async def accept(self, request: Request, route: dict[str, Any]) -> bool:
        if self.down:
            raise DatabaseUnavailable("connection refused")
        return await self.core.accept(request, route)

    def on_resume(self, platform: str, resume: Resume) -> None:
        """This process takes nothing over: the replica under test does."""

    async def _handling(self) -> None:
        await self.held.wait()
        if self.dies:
            await asyncio.Event().wait()  # killed before the core is reached


@pytest.fixture(params=["webhook", "long_connection"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def feishu_to(
    clock: FakeClock, open_api: FakeOpenApi, ws_server: FakeLongConnection
) -> Callable[[Tocsin, Process], Any]:
    """Feishu delivering to `tocsin`'s adapter, whose callbacks call `process`."""

    @asynccontextmanager
    async def connect(tocsin: Tocsin, process: Process) -> AsyncIterator[Feishu]:
        adapter = adapter_of(tocsin)
        if adapter.settings.mode == "webhook":
            app = Starlette(routes=adapter.routes(process))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t.test") as client:
                yield Webhook(client, clock, adapter, open_api)
            await adapter.aclose()
            return
        running = asyncio.create_task(adapter.run(process))
        try:
            await ws_server.connected()
            yield LongConnection(ws_server, adapter, open_api)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)

    return connect


@pytest.fixture
def webhook_of(clock: FakeClock, open_api: FakeOpenApi) -> Callable[[Tocsin], Any]:
    """Feishu delivering to `tocsin`'s own ASGI app (its dispatcher as `bootstrap` wired it)."""

    @asynccontextmanager
    async def connect(tocsin: Tocsin) -> AsyncIterator[Feishu]:
        transport = httpx.ASGITransport(app=tocsin.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t.test") as client:
            yield Webhook(client, clock, adapter_of(tocsin), open_api)
        await adapter_of(tocsin).aclose()

    return connect


async def open_card(tocsin: Tocsin, api: FakeOpenApi) -> Message:
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    return api.cards_in(CHAT)[-1]


async def stored(tocsin: Tocsin) -> list[Any]:
    async with tocsin.services.db.connect() as conn:
        return list((await conn.execute(select(inbox).order_by(inbox.c.id))).all())


async def acks(tocsin: Tocsin, action: str) -> list[str]:
    return [row.outcome for row in await audit(tocsin) if row.action == action]


async def kill(tocsin: Tocsin) -> None:
    """The process stops dead: what it was doing is cut off."""
    await adapter_of(tocsin).work.aclose(grace=0)


async def test_an_event_that_cannot_be_stored_is_not_acknowledged(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    feishu_to: Callable[[Tocsin, Process], Any],
    mode: str,
) -> None:
    tocsin = make_tocsin(mode=mode)
    card = await open_card(tocsin, open_api)
    process = Process(tocsin)
    process.down = True
    press, said = card_press(card, "ack"), message_event("/incident 1")
    async with feishu_to(tocsin, process) as feishu:
        refused = [await feishu.send(press), await feishu.send(said)]
        assert [r.status for r in refused] == [500, 500], "Feishu is not told OK"
        assert refused[0].body.get("toast") is None
        assert await stored(tocsin) == [] and await audit(tocsin) == []
        assert (await incident(tocsin, 1)).status == "triggered"
        assert open_api.direct(ALICE) == [] and open_api.posts_in(CHAT) == []

        process.down = False  # the database is back; Feishu delivers both again
        answered = [await feishu.send(press), await feishu.send(said)]
    assert [r.status for r in answered] == [200, 200]
    assert answered[0].body["toast"]["type"] == "success"
    assert (await incident(tocsin, 1)).status == "acknowledged"
    assert await acks(tocsin, "button:ack") == ["allowed"]
    assert [row.state for row in await stored(tocsin)] == ["done", "done"]
    message_id = said["event"]["message"]["message_id"]
    assert [m.parent_id for m in open_api.messages.values() if m.parent_id] == [message_id]


async def test_the_request_is_stored_when_feishu_is_answered(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    feishu_to: Callable[[Tocsin, Process], Any],
    mode: str,
) -> None:
    tocsin = make_tocsin(mode=mode)
    await open_card(tocsin, open_api)
    process = Process(tocsin)
    process.held.clear()  # the work after the acknowledgement waits
    said = message_event("ack 1")
    message_id = said["event"]["message"]["message_id"]
    async with feishu_to(tocsin, process) as feishu:
        answer = await feishu.send(said, wait=False)
        assert answer.status == 200
        (row,) = await stored(tocsin)
        assert (row.event_id, row.state) == (f"message:{message_id}", "pending")
        assert row.route["kind"] == "message" and row.route["message_id"] == message_id
        assert (await incident(tocsin, 1)).status == "triggered", "not handled yet"
        process.held.set()
        await adapter_of(tocsin).idle()
    assert [row.state for row in await stored(tocsin)] == ["done"]
    assert (await incident(tocsin, 1)).status == "acknowledged"


async def test_a_press_its_process_left_is_taken_over_by_another_replica(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    clock: FakeClock,
    feishu_to: Callable[[Tocsin, Process], Any],
    webhook_of: Callable[[Tocsin], Any],
) -> None:
    dying = make_tocsin(mode="webhook", answer_within="300ms")
    replica = make_tocsin(mode="webhook")  # the same database
    card = await open_card(replica, open_api)
    press = card_press(card, "ack")
    async with feishu_to(dying, Process(dying, dies=True)) as feishu:
        answer = await feishu.send(press, wait=False)
        assert (answer.status, answer.body) == (200, {}), "stored, then no answer in time"
        await kill(dying)
    (row,) = await stored(replica)
    assert (row.state, row.route["kind"], row.route["user"]) == ("pending", "press", ALICE)

    await replica.engine.tick()
    assert (await incident(replica, 1)).status == "triggered", "still the dead process's"
    clock.advance(AFTER_THE_LEASE)
    await replica.engine.tick()  # the inbox pass takes it over
    await adapter_of(replica).idle()
    await replica.engine.tick()  # the outbox shows the card's new state

    assert (await incident(replica, 1)).status == "acknowledged"
    (told,) = open_api.direct(ALICE)
    assert (told.text, told.receive_id_type) == (ACKED, "open_id"), "to the presser"
    assert open_api.posts_in(CHAT) == [], "the chat learns from the card"
    shown = open_api.messages[card.message_id]
    assert shown.updates >= 1 and "Acknowledged" in str(shown.content["header"])
    assert await acks(replica, "button:ack") == ["allowed"]
    assert [(r.state, r.attempts) for r in await stored(replica)] == [("done", 2)]

    async with webhook_of(replica) as feishu:  # Feishu delivers it again
        again = await feishu.send(press)
    assert (again.status, again.body) == (200, {}), "a re-delivery says nothing"
    clock.advance(AFTER_THE_LEASE)
    await replica.engine.tick()
    await adapter_of(replica).idle()
    assert len(open_api.direct(ALICE)) == 1
    assert await acks(replica, "button:ack") == ["allowed"]


async def test_a_command_its_process_left_is_taken_over_by_another_replica(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    clock: FakeClock,
    feishu_to: Callable[[Tocsin, Process], Any],
    webhook_of: Callable[[Tocsin], Any],
) -> None:
    dying = make_tocsin(mode="webhook")
    replica = make_tocsin(mode="webhook")
    await open_card(replica, open_api)
    said = message_event("ack 1")
    message_id = said["event"]["message"]["message_id"]
    async with feishu_to(dying, Process(dying, dies=True)) as feishu:
        answer = await feishu.send(said, wait=False)
        assert answer.status == 200
        await kill(dying)
    assert open_api.posts_in(CHAT) == []

    clock.advance(AFTER_THE_LEASE)
    await replica.dispatcher.resume()
    await adapter_of(replica).idle()

    assert (await incident(replica, 1)).status == "acknowledged"
    (reply,) = open_api.posts_in(CHAT)
    assert (reply.text, reply.parent_id) == (ACKED, message_id), "under the command"
    assert await acks(replica, "command:ack") == ["allowed"]

    async with webhook_of(replica) as feishu:
        again = await feishu.send(said)
    assert again.status == 200
    assert len(open_api.posts_in(CHAT)) == 1, "a re-delivery says nothing"
    assert await acks(replica, "command:ack") == ["allowed"]
    assert [r.state for r in await stored(replica)] == ["done"]
