"""The AI bot (智能机器人) through the real core: group @-commands reach the command registry,
answers and cards come back as encrypted passive replies, presses on its cards update them in
place. Runs on SQLite and PostgreSQL (the slow-answer test uses a hand-written inbound fake)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fake_wecom import FakeWeCom, eventually
from starlette.applications import Starlette
from wecom_support import (
    WeComSide,
    adapter_of,
    aibot_press,
    aibot_text,
    audit,
    bot_side,
    incident,
    key_of,
    wecom_section,
)

from adapters.chat.wecom import create
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.i18n import t
from bot.inbox import Request, Resume
from bot.model import CardActionRequest, CommandRequest, Reply
from bot.replay import MemoryReplays
from tests.support import firing

PATH = "/wecom/aibot/callback"
ACKED = t("incident.acked", "en", id=1, user="Alice")


class Bot:
    """Sends what WeCom would send to the AI bot's callback, and opens its passive replies."""

    def __init__(self, client: httpx.AsyncClient, side: WeComSide, idle: Callable[[], Any]) -> None:
        self.client, self.side, self.idle = client, side, idle

    async def send(self, message: dict[str, Any]) -> dict[str, Any] | None:
        signed = self.side.aibot(message)
        response = await self.client.post(PATH, params=signed.params, content=signed.body)
        assert response.status_code == 200, response.text
        await self.idle()
        return self.side.open_reply(response) if response.content else None


@asynccontextmanager
async def bot_for(tocsin: Tocsin, clock: FakeClock) -> AsyncIterator[Bot]:
    transport = httpx.ASGITransport(app=tocsin.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        yield Bot(client, bot_side(clock), adapter_of(tocsin).idle)


async def open_incident(tocsin: Tocsin) -> None:
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()


async def test_a_group_mention_reaches_the_command_registry(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    tocsin = make_tocsin()
    await open_incident(tocsin)
    async with bot_for(tocsin, clock) as bot:
        reply = await bot.send(aibot_text("@Tocsin ack 1"))
    assert reply is not None and reply["msgtype"] == "stream"
    assert reply["stream"]["finish"] is True and reply["stream"]["content"] == ACKED
    assert (await incident(tocsin, 1)).status == "acknowledged"
    (entry,) = await audit(tocsin)
    assert (entry.actor, entry.platform, entry.action, entry.target) == (
        "alice",
        "wecom",
        "command:ack",
        "/ack 1",
    )


async def test_a_card_reply_and_a_press_on_it(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    tocsin = make_tocsin()
    await open_incident(tocsin)
    async with bot_for(tocsin, clock) as bot:
        reply = await bot.send(aibot_text("@运维助手 incident show 1"))
        assert reply is not None and reply["msgtype"] == "template_card"
        card = reply["template_card"]
        assert card["main_title"]["title"].startswith("[P0] HighErrorRate")
        pressed = await bot.send(aibot_press(card["task_id"], key_of(card, "ack")))
    assert (await incident(tocsin, 1)).status == "acknowledged"
    assert pressed is not None and pressed["response_type"] == "update_template_card"
    assert "userids" not in pressed, "the change shows to everyone"
    updated = pressed["template_card"]
    assert updated["task_id"] == card["task_id"]
    assert updated["quote_area"]["quote_text"] == ACKED
    assert updated["replace_text"] == t("status.acknowledged", "en")
    assert updated["main_title"]["desc"].startswith("🔵 Acknowledged")


async def test_a_refused_press_shows_only_to_the_presser(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    tocsin = make_tocsin()
    await open_incident(tocsin)
    async with bot_for(tocsin, clock) as bot:
        reply = await bot.send(aibot_text("@Tocsin incident 1", user="carol"))
        assert reply is not None
        card = reply["template_card"]
        pressed = await bot.send(aibot_press(card["task_id"], key_of(card, "ack"), user="carol"))
    assert pressed is not None and pressed["userids"] == ["carol"]
    assert "replace_text" not in pressed["template_card"]
    assert "viewer" in pressed["template_card"]["quote_area"]["quote_text"]
    assert (await incident(tocsin, 1)).status == "triggered"
    assert [e.outcome for e in await audit(tocsin)] == ["allowed", "denied"]


async def test_a_redelivered_callback_is_answered_once(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    tocsin = make_tocsin()
    await open_incident(tocsin)
    message = aibot_text("@Tocsin ack 1")
    async with bot_for(tocsin, clock) as bot:
        first = await bot.send(message)
        again = await bot.send(message)  # same msgid, new nonce
    assert first is not None and again is None
    assert len(await audit(tocsin)) == 1


async def test_private_answers_in_a_group_go_through_the_app(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    tocsin = make_tocsin()
    async with bot_for(tocsin, clock) as bot:
        reply = await bot.send(aibot_text("@Tocsin help"))
        direct = await bot.send(aibot_text("help", chatid=""))
    assert reply is None, "nothing said in the group"
    (helped,) = wecom_api.texts_to("alice")
    assert helped.startswith(t("cmd.help_header", "en"))
    assert direct is not None and direct["stream"]["content"].startswith("Commands you may run")


async def test_without_the_app_private_answers_stay_in_the_group(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    tocsin = make_tocsin(app=None, corp_id="", destinations=["wecom-robot:ops"])
    async with bot_for(tocsin, clock) as bot:
        reply = await bot.send(aibot_text("@Tocsin help"))
    assert reply is not None and reply["stream"]["content"].startswith("Commands you may run")
    assert wecom_api.calls_to("gettoken") == []


async def test_rollback_on_a_bot_card_is_authorized_before_anything_asks(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    """No confirmation card first: it would ask before the grant is checked. The press is
    authorized and audited at once, and the presser sees the answer (the rollback run, when a
    backend is configured, waits for their Confirm on its own card)."""
    tocsin = make_tocsin()
    await open_incident(tocsin)
    async with bot_for(tocsin, clock) as bot:
        reply = await bot.send(aibot_text("@Tocsin incident 1"))
        assert reply is not None
        card = reply["template_card"]
        done = await bot.send(aibot_press(card["task_id"], key_of(card, "rollback")))
    assert [e.action for e in await audit(tocsin)] == ["command:incident", "button:rollback"]
    unavailable = t(
        "incident.rollback_unavailable", "en", user="Alice", service="orders", environment="prod"
    )
    assert done is not None and done["userids"] == ["alice"], (
        "nothing changed: the presser sees why"
    )
    assert done["template_card"]["quote_area"]["quote_text"] == unavailable


async def test_url_verification_with_the_official_json_vector(wecom_api: FakeWeCom) -> None:
    clock = FakeClock(datetime.fromtimestamp(1476416373, UTC))
    section = wecom_section(
        wecom_api,
        app=None,
        robots={},
        aibot={
            "token": "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
            "encoding_aes_key": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
            "receive_id": "ww1436e0e65a779aee",
        },
    )
    adapter = create(section, clock=clock, replays=MemoryReplays())
    app = Starlette(routes=adapter.routes(SlowInbound()))
    params = {
        "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
        "timestamp": "1476416373",
        "nonce": "47744683",
        "echostr": "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qd"
        "qjnoVzEtpbhnFyq6SVHyA==",
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get(PATH, params=params)
    await adapter.aclose()
    assert (answer.status_code, answer.text) == (200, "1288432023552776189")


class SlowInbound:
    """An inbound handler that answers only when told to (the core, slower than WeCom waits).
    `events` says in which order requests were stored and handled."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.seen: list[str] = []
        self.events: list[str] = []
        self.resumers: dict[str, Resume] = {}

    async def accept(self, request: Request, route: dict[str, Any]) -> bool:
        self.events.append(f"accept {request.event_id}")
        return True

    def on_resume(self, platform: str, resume: Resume) -> None:
        self.resumers[platform] = resume

    async def command(self, request: CommandRequest) -> Reply:
        self.seen.append(request.text)
        self.events.append(f"command {request.event_id}")
        await self.release.wait()
        return Reply(f"done: {request.text}")

    async def action(self, request: CardActionRequest) -> Reply:
        self.events.append(f"action {request.event_id}")
        await self.release.wait()
        return Reply("pressed")


async def test_an_answer_later_than_wecom_waits_goes_through_the_response_url(
    wecom_api: FakeWeCom,
) -> None:
    clock = FakeClock()
    adapter = create(
        wecom_section(
            wecom_api, app=None, aibot={**wecom_section(wecom_api)["aibot"], "reply_within": "50ms"}
        ),
        clock=clock,
        replays=MemoryReplays(),
    )
    slow = SlowInbound()
    app = Starlette(routes=adapter.routes(slow))
    side = bot_side(clock)
    message = aibot_text("@Tocsin deploy orders v1.4.2 prod", response_url=wecom_api.response_url())
    signed = side.aibot(message)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post(PATH, params=signed.params, content=signed.body)
    assert (answer.status_code, answer.text) == (200, ""), "answered in time, without the result"
    assert slow.seen == ["/deploy orders v1.4.2 prod"]
    event = f"aibot:{message['msgid']}"
    assert slow.events == [f"accept {event}", f"command {event}"], "stored before answered"
    slow.release.set()
    await adapter.idle()
    await eventually(lambda: bool(wecom_api.responses), what="the late answer")
    ((_code, body),) = wecom_api.responses
    assert body == {
        "msgtype": "markdown",
        "markdown": {"content": "done: /deploy orders v1.4.2 prod"},
    }
    await adapter.aclose()


async def test_bad_bot_callbacks_are_refused(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    tocsin = make_tocsin()
    async with bot_for(tocsin, clock) as bot:
        signed = bot.side.aibot(aibot_text("@Tocsin ack 1"))
        someone_else = WeComSide("another-token", "A" * 43, "", clock)
        forged = await bot.client.post(
            PATH, params=signed.params | {"msg_signature": "f" * 40}, content=signed.body
        )
        other = someone_else.aibot(aibot_text("@Tocsin ack 1"))
        wrong = await bot.client.post(PATH, params=other.params, content=other.body)
        not_json = bot.side.crypt.encrypt("<xml/>")
        garbled = await bot.client.post(
            PATH, params=bot.side.query(not_json), content=json.dumps({"encrypt": not_json})
        )
    assert [r.status_code for r in (forged, wrong, garbled)] == [401, 401, 400]
    assert await audit(tocsin) == []
