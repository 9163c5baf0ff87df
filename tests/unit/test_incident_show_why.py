"""`/incident show` posts a live card that later changes edit in place; `/incident why` says
that escalation stopped (or paused) once someone acted, and that a chat page was delivered,
in words of the reader's language only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.model import ActionKind, CommandRequest, Sender
from bot.model import Destination as Dest
from bot.store.db import Database
from tests.support import RecordingPlatform
from tests.unit.readers import english_words
from tests.unit.test_dispatch import open_incident, press, say
from tests.unit.test_escalation import fire, later, wire


def said_in(app: Tocsin, chat: str, who: str, text: str) -> Any:
    request = CommandRequest(
        text, Sender("fake", who), Dest.parse(chat), f"ev-{text}-{chat}", app.services.clock.now()
    )
    return app.dispatcher.command(request)


async def test_incident_show_posts_a_live_card_that_is_updated_in_place(
    tocsin: Tocsin, chat: RecordingPlatform
) -> None:
    number = await open_incident(tocsin)
    reply = await said_in(tocsin, "fake:war-room", "U-ALICE", f"/incident show {number}")
    assert reply.card is None and f"#{number}" in reply.text
    await tocsin.engine.tick()
    (posted,) = chat.ops("post", "fake:war-room")
    assert posted.card is not None and posted.card.ref == f"incident:{number}"
    await press(tocsin, "U-ALICE", ActionKind.ACK, f"incident:{number}")
    await tocsin.engine.tick()
    updates = chat.ops("update", "fake:war-room")
    assert updates and updates[-1].ref == posted.ref, "the same message, edited"
    assert updates[-1].card is not None and updates[-1].card.status == "acknowledged"
    assert len(chat.ops("post", "fake:war-room")) == 1


async def test_incident_show_in_a_chat_that_has_the_card_posts_it_anew(
    tocsin: Tocsin, chat: RecordingPlatform
) -> None:
    number = await open_incident(tocsin)
    await say(tocsin, "U-ALICE", f"/incident show {number}")  # in fake:ops, the route's chat
    await tocsin.engine.tick()
    first, second = chat.ops("post", "fake:ops")
    await press(tocsin, "U-ALICE", ActionKind.ACK, f"incident:{number}")
    await tocsin.engine.tick()
    assert {u.ref["n"] for u in chat.ops("update", "fake:ops")} == {second.ref["n"]}
    assert first.ref != second.ref


async def test_why_after_an_acknowledgement_says_escalation_stopped(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    number = await fire(app)
    await app.engine.tick()
    before = (await say(app, "U-ALICE", f"/incident why {number}")).text
    assert "Next step due 03:05 UTC." in before
    assert "chat delivered (03:00 UTC)" in before
    clock.advance(timedelta(minutes=1))
    await say(app, "U-ALICE", f"/ack {number}")
    after = (await say(app, "U-ALICE", f"/incident why {number}")).text
    assert "Next step" not in after
    assert "Escalation stopped 03:01 UTC: Alice acknowledged the incident." in after
    await later(app, clock, minutes=5)  # the step falls due: the engine stops it for good
    final = (await say(app, "U-ALICE", f"/incident why {number}")).text
    assert "Next step" not in final and "Alice acknowledged the incident" in final


async def test_why_while_silenced_says_escalation_is_paused(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    number = await fire(app)
    await say(app, "U-ALICE", f"/silence {number} 2h")
    text = (await say(app, "U-ALICE", f"/incident why {number}")).text
    assert "Escalation paused until 05:00 UTC: the incident is silenced." in text


async def test_why_in_chinese_has_no_english_fragments(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    sms = MemoryNotifier("sms")
    sms.fail_next(retry_after=30)  # the SMS waits for a retry…
    app = wire(db, clock, chat, sms)
    number = await fire(app)
    await say(app, "U-BOB", f"/ack {number}")  # …and Bob acknowledges meanwhile
    await later(app, clock, minutes=1)
    await say(app, "U-BOB", "/tz Asia/Shanghai")
    text = (await say(app, "U-BOB", f"/incident why {number}")).text
    assert "升级已于 11:00（北京时间） 停止：Bob 已认领事件。" in text
    assert "短信未发送（已由 Bob 认领）" in text
    names = ["primary", "ops", "alice", "bob", "Bob", "daily", "CST"]
    assert english_words(text, names) == [], text


async def test_silence_answers_until_when_in_the_readers_zone_and_words(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    number = await fire(app)
    assert (await say(app, "U-ALICE", "/lang zh")).ok
    assert (await say(app, "U-ALICE", "/tz Asia/Shanghai")).ok
    answer = (await say(app, "U-ALICE", f"/silence {number} 2h")).text
    assert "13:00（北京时间）" in answer, answer
    assert "CST" not in answer
