"""What a button press is answered with (toast and card), decided from the core's reply and the
card this process last showed — including a press that races the outbox's own update — and how
each event is stored before the callback returns (Feishu's acknowledgement), or the callback
raises. The core is a small in-memory `InboundHandler`; lark-oapi's threads are the real ones."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fake_feishu import FakeOpenApi
from feishu_support import ALICE, CHAT, config, message_event, recorded
from lark_oapi.api.im.v1 import P2ImMessageReceiveV1
from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTrigger

from adapters.chat.feishu import FeishuAdapter, create
from adapters.chat.feishu.inbox import Inbox, NotStored
from adapters.chat.feishu.translate import Where
from bot.clock import FakeClock
from bot.errors import DatabaseUnavailable
from bot.inbox import Request, Resume
from bot.inbox.codec import pack
from bot.model import ActionKind, Button, Card, CardActionRequest, CommandRequest, Reply, Tier
from bot.replay import MemoryReplays

MESSAGE = "om_card"
WHERE = Where(CHAT, ALICE, message_id=MESSAGE)


def card(status: str = "triggered") -> Card:
    return Card(
        "incident:1",
        "HighErrorRate",
        Tier.P0,
        status,
        buttons=(Button("Acknowledge", ActionKind.ACK),) if status == "triggered" else (),
    )


class Core:
    """An `InboundHandler` that stores what it is given, answers every press with `reply` after
    running `meanwhile`, and writes down in `events` what happened in which order. With
    `refuse`, storing fails (the database is down); with `stall`, it never ends."""

    def __init__(
        self,
        reply: Reply,
        meanwhile: Callable[[], Any] | None = None,
        *,
        refuse: Exception | None = None,
        stall: bool = False,
    ) -> None:
        self.reply, self.meanwhile = reply, meanwhile
        self.refuse, self.stall = refuse, stall
        self.actions: list[CardActionRequest] = []
        self.events: list[str] = []
        self.stored: dict[str, tuple[Request, dict[str, Any]]] = {}
        self.resumes: dict[str, Resume] = {}
        self.release = asyncio.Event()
        self.release.set()

    async def command(self, request: CommandRequest) -> Reply:
        self.events.append(f"command {request.event_id}")
        return Reply("")

    async def action(self, request: CardActionRequest) -> Reply:
        self.events.append(f"action {request.event_id}")
        self.actions.append(request)
        await self.release.wait()
        if self.meanwhile is not None:
            self.meanwhile()
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply

    async def accept(self, request: Request, route: dict[str, Any]) -> bool:
        if self.stall:
            await asyncio.Event().wait()
        if self.refuse is not None:
            raise self.refuse
        self.events.append(f"accept {request.event_id}")
        first = request.event_id not in self.stored
        self.stored.setdefault(request.event_id, (request, route))
        return first

    def on_resume(self, platform: str, resume: Resume) -> None:
        self.resumes[platform] = resume


def feishu(open_api: FakeOpenApi, **settings: Any) -> FeishuAdapter:
    raw = config(open_api)["feishu"] | settings
    return create(raw, clock=FakeClock(), replays=MemoryReplays(), identities={"alice": ALICE})


def inbox_for(adapter: FeishuAdapter, core: Core) -> Inbox:
    inbox = adapter.inbox(core)
    inbox.attach()
    return inbox


def press_event() -> dict[str, Any]:
    press = recorded("feishu_card_action_trigger_callback")
    press["event"]["action"]["value"] = {"r": "incident:1", "a": "ack", "v": ""}
    press["event"]["operator"]["open_id"] = ALICE
    press["event"]["context"] = {"open_message_id": MESSAGE, "open_chat_id": CHAT}
    return press


def shown_text(answer: dict[str, Any]) -> str:
    return str(answer["card"]["data"])


@pytest.mark.parametrize(
    ("reply", "toast", "with_card"),
    [
        (Reply("Incident #1 acknowledged by Alice"), "success", True),
        (Reply("Incident #1 is already acknowledged", private=True), "info", False),
        (Reply("You may not acknowledge", private=True, ok=False), "error", False),
    ],
)
async def test_the_answer_follows_the_reply(
    open_api: FakeOpenApi, reply: Reply, toast: str, with_card: bool
) -> None:
    adapter = feishu(open_api)
    adapter.memory.remember(MESSAGE, card(), "en")
    answer = inbox_for(adapter, Core(reply)).click_answer(
        reply, WHERE, adapter.memory.version(MESSAGE)
    )
    assert answer["toast"] == {"type": toast, "content": reply.text}
    assert ("card" in answer) is with_card
    if with_card:
        assert reply.text in shown_text(answer), "the card says what happened"
        assert answer["card"]["data"]["header"]["title"]["content"] == "HighErrorRate"


async def test_duplicates_say_nothing_and_unknown_cards_stay(open_api: FakeOpenApi) -> None:
    adapter = feishu(open_api)
    inbox = inbox_for(adapter, Core(Reply("x")))
    assert inbox.click_answer(Reply("", extra={"duplicate": True}), WHERE, 0) == {}
    answer = inbox.click_answer(Reply("Incident #1 acknowledged by Alice"), WHERE, 0)
    assert "card" not in answer, "a card another process posted is left as it is"
    reply_card = dataclasses.replace(card("acknowledged"), title="Shown by the core")
    answer = inbox.click_answer(Reply("ok", card=reply_card), WHERE, 0)
    assert answer["card"]["data"]["header"]["title"]["content"] == "Shown by the core"


async def test_a_press_racing_the_outbox_answers_with_the_newer_card(
    open_api: FakeOpenApi,
) -> None:
    adapter = feishu(open_api)
    adapter.memory.remember(MESSAGE, card(), "en")
    outbox_update = lambda: adapter.memory.remember(MESSAGE, card("acknowledged"), "en")  # noqa: E731
    inbox = inbox_for(adapter, Core(Reply("Incident #1 acknowledged by Alice"), outbox_update))
    answer = await inbox.press(press_event())
    shown = answer["card"]["data"]
    assert shown["header"]["text_tag_list"][-1]["text"]["content"] == "Acknowledged"
    assert "acknowledged by Alice" not in str(shown), "the outbox's card, not a note"


async def test_the_sdk_thread_gets_the_answer_through_the_bridge(open_api: FakeOpenApi) -> None:
    adapter = feishu(open_api)
    adapter.memory.remember(MESSAGE, card(), "en")
    core = Core(Reply("Incident #1 acknowledged by Alice"))
    inbox = inbox_for(adapter, core)
    event = P2CardActionTrigger(press_event())
    answer = await asyncio.to_thread(inbox.on_card_action, event)
    assert answer.toast.type == "success" and answer.card.type == "raw"
    (request,) = core.actions
    assert (request.action, request.event_id) == (
        ActionKind.ACK,
        "action:f7984f25108f8137722bb63cxxxxx",
    )
    assert core.events == [f"accept {request.event_id}", f"action {request.event_id}"]
    assert core.stored[request.event_id][1] == {"kind": "press", **pack(WHERE)}


async def test_a_message_is_stored_before_the_callback_returns(open_api: FakeOpenApi) -> None:
    adapter = feishu(open_api)
    core = Core(Reply(""))
    inbox = inbox_for(adapter, core)
    said = message_event("ack 1", message_id="om_said")
    await asyncio.to_thread(inbox.on_message, P2ImMessageReceiveV1(said))
    acknowledged = list(core.events)  # what had happened when Feishu was told OK
    assert acknowledged[0] == "accept message:om_said"
    _, route = core.stored["message:om_said"]
    assert route == {"kind": "message", **pack(Where(CHAT, ALICE, message_id="om_said"))}
    await adapter.idle()
    assert core.events == ["accept message:om_said", "command message:om_said"]
    # a re-delivery is stored no more, and goes on as before (the core stays silent on it)
    await asyncio.to_thread(inbox.on_message, P2ImMessageReceiveV1(said))
    await adapter.idle()
    assert core.events[2:] == ["accept message:om_said", "command message:om_said"]
    assert len(core.stored) == 1


@pytest.mark.parametrize("how", ["refused", "stalled"])
async def test_an_event_that_is_not_stored_is_not_acknowledged(
    open_api: FakeOpenApi, how: str
) -> None:
    if how == "refused":
        core = Core(Reply("x"), refuse=DatabaseUnavailable("the database is down"))
    else:
        core = Core(Reply("x"), stall=True)
    adapter = feishu(open_api, answer_within="200ms" if how == "stalled" else "2800ms")
    adapter.memory.remember(MESSAGE, card(), "en")
    inbox = inbox_for(adapter, core)
    with pytest.raises(NotStored):
        await asyncio.to_thread(inbox.on_card_action, P2CardActionTrigger(press_event()))
    with pytest.raises(NotStored):
        said = message_event("ack 1")
        await asyncio.to_thread(inbox.on_message, P2ImMessageReceiveV1(said))
    await adapter.idle()
    assert core.events == [] and core.stored == {}, "nothing stored, nothing handled"
    assert open_api.direct(ALICE) == [] and open_api.posts_in(CHAT) == []


async def test_the_inbox_takes_over_for_its_platform(open_api: FakeOpenApi) -> None:
    adapter = feishu(open_api)
    core = Core(Reply("x"))
    inbox = inbox_for(adapter, core)
    assert core.resumes == {"feishu": inbox.resume}
    press = await asyncio.to_thread(inbox.on_card_action, P2CardActionTrigger(press_event()))
    await adapter.idle()
    ((request, route),) = core.stored.values()
    for unfit in ({}, {"kind": "message", **pack(WHERE)}, {"kind": "press", "chat_id": CHAT}):
        await inbox.resume(request, unfit)  # a route it did not store: said, not carried out
    await adapter.idle()
    assert len(core.actions) == 1 and press.toast is not None
    await inbox.resume(request, route)
    await adapter.idle()
    assert len(core.actions) == 2, "a stored press is handled again"
    (told,) = open_api.direct(ALICE)
    assert told.text == "x", "its answer goes to the presser"


async def test_a_core_that_fails_gets_an_empty_answer(open_api: FakeOpenApi) -> None:
    adapter = feishu(open_api)
    inbox = inbox_for(adapter, Core(RuntimeError("boom")))  # type: ignore[arg-type]
    answer = await asyncio.to_thread(inbox.on_card_action, P2CardActionTrigger(press_event()))
    assert answer.toast is None and answer.card is None
    await adapter.idle()


async def test_a_press_of_a_foreign_button_is_answered_with_nothing(open_api: FakeOpenApi) -> None:
    core = Core(Reply("x"))
    inbox = inbox_for(feishu(open_api), core)
    assert await inbox.press(recorded("feishu_card_action_trigger_callback")) == {}
    assert core.actions == []


async def test_a_late_reply_goes_to_the_presser(open_api: FakeOpenApi) -> None:
    adapter = feishu(open_api, answer_within="100ms")
    core = Core(Reply("Incident #1 acknowledged by Alice"))
    core.release.clear()
    inbox = inbox_for(adapter, core)
    assert await inbox.press(press_event()) == {}
    core.release.set()
    await adapter.idle()
    (said,) = open_api.direct(ALICE)
    assert (said.text, said.receive_id_type) == ("Incident #1 acknowledged by Alice", "open_id")
    assert open_api.posts_in(CHAT) == [], "the chat learns from the card and the core"
    assert timedelta(milliseconds=100) == adapter.settings.answer_within
