"""Answering a page from the phone: an SMS reply or a key pressed in a call acts as the
incident card's button would, as the person whose number it came from, once; what cannot be
acted on is refused, audited, and changes nothing."""

from __future__ import annotations

from itertools import count
from typing import Any, Literal

from sqlalchemy import select

from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.paging.chains import digits
from bot.paging.codes import code
from bot.paging.replies import Replies
from bot.ports import Answer, PhoneReply
from bot.store.db import Database
from bot.store.tables import audit_log, page_sends
from tests.support import RecordingPlatform, make_settings
from tests.unit.test_dispatch import incident
from tests.unit.test_escalation import PHONES, fire, later, page_rows, paged, paging_config

STRANGER = "+8613900000009"
_ids = count(1)


class Phones:
    """The rig: Tocsin paging by chat, SMS and voice, and a `Replies` as the callbacks use it."""

    def __init__(self, app: Tocsin, sms: MemoryNotifier, voice: MemoryNotifier) -> None:
        self.app, self.sms, self.voice = app, sms, voice
        s = app.services
        self.replies = Replies(s.settings, s.db, s.clock, app.dispatcher, s.metrics)

    async def text(self, who: str, body: str, message_id: str = "") -> Answer:
        return await self.answer("sms", PHONES.get(who, who), body, message_id)

    async def answer(
        self, channel: Literal["sms", "voice"], number: str, body: str, message_id: str = ""
    ) -> Answer:
        reply = PhoneReply(
            provider="twilio",
            channel=channel,
            number=number,
            text=body,
            message_id=message_id or f"SM{next(_ids)}",
            received_at=self.app.services.clock.now(),
        )
        return await self.replies.reply(reply)

    async def audit(self, action: str) -> list[Any]:
        async with self.app.services.db.connect() as conn:
            stmt = select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
            return list((await conn.execute(stmt)).all())

    async def sms_pages(self, recipient: str) -> list[Any]:
        return [
            r for r in await page_rows(self.app) if (r.channel, r.recipient) == ("sms", recipient)
        ]


def rig(db: Database, clock: FakeClock, chat: RecordingPlatform, **paging: Any) -> Phones:
    config = paging_config()
    config["paging"] = {
        "channels": {"P0": ["chat", "sms", "voice"], "P1": ["chat"], "P2": ["chat"]},
        **paging,
    }
    sms, voice = MemoryNotifier("sms"), MemoryNotifier("voice")
    app = bootstrap(
        make_settings(**config),
        clock=clock,
        platforms={"fake": chat},
        database=db,
        notifiers={"sms": sms, "voice": voice},
    )
    return Phones(app, sms, voice)


async def test_reply_1_acknowledges_the_latest_page_as_its_person(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    phones = rig(db, clock, chat)
    number = await fire(phones.app)
    await later(phones.app, clock, minutes=1)
    answer = await phones.text("alice", "1")
    assert answer == Answer(f"Alice acknowledged incident #{number}.", True, "en")
    row = await incident(phones.app, number)
    assert (row.status, row.acked_by, row.acked_via) == ("acknowledged", "Alice", "sms_reply")
    [audited] = await phones.audit("button:ack")
    assert (audited.actor, audited.platform, audited.outcome) == ("alice", "tocsin", "allowed")
    assert audited.detail["via"] == "sms_reply"
    metrics = phones.app.services.metrics.registry
    labels = {"channel": "sms"}
    assert metrics.get_sample_value("tocsin_page_ack_seconds_count", labels) == 1
    assert metrics.get_sample_value("tocsin_page_ack_seconds_sum", labels) == 60


async def test_reply_2_escalates_and_the_next_step_pages_now(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    phones = rig(db, clock, chat)
    number = await fire(phones.app)
    answer = await phones.text("alice", " 2 ")
    assert answer.ok and f"escalated incident #{number}" in answer.text
    await phones.app.engine.tick()
    assert (1, "carol", "sms") in paged(await page_rows(phones.app))
    # carol, a viewer paged by that step, may hand it on too, and acknowledge it
    assert (await phones.text("carol", "2")).ok
    assert [r.outcome for r in await phones.audit("button:escalate")] == ["allowed", "allowed"]
    assert (await phones.text("carol", "1")).ok
    assert (await incident(phones.app, number)).acked_by == "Carol"


async def test_a_code_answers_an_older_page_not_the_latest(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    phones = rig(db, clock, chat)
    first = await fire(phones.app, "DiskFull")
    await later(phones.app, clock, seconds=61)  # one SMS a minute per person
    second = await fire(phones.app, "HighLatency")
    await later(phones.app, clock, seconds=61)
    older, newer = await phones.sms_pages("alice")
    assert (older.incident_id, newer.incident_id) == (first, second)
    answer = await phones.text("alice", f"1 {code(older.id).lower()}")
    assert answer.ok and f"#{first}" in answer.text
    assert (await incident(phones.app, first)).status == "acknowledged"
    assert (await incident(phones.app, second)).status == "triggered"


async def test_an_unknown_number_is_refused_unanswered_and_audited(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    phones = rig(db, clock, chat)
    number = await fire(phones.app)
    answer = await phones.answer("sms", STRANGER, "1", "SM-stranger")
    assert answer == Answer("", ok=False)
    assert (await incident(phones.app, number)).status == "triggered"
    [refused] = await phones.audit("phone:reply")
    assert (refused.actor, refused.platform, refused.target, refused.outcome) == (
        f"sms:{STRANGER}",
        "sms",
        "",
        "denied",
    )
    assert refused.detail == {
        "reason": "unknown number",
        "provider": "twilio",
        "message_id": "SM-stranger",
    }
    assert await phones.audit("button:ack") == []


async def test_a_code_of_someone_elses_page_is_stale(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    phones = rig(db, clock, chat)
    number = await fire(phones.app)
    await later(phones.app, clock, minutes=5)  # step two pages carol
    [carols] = await phones.sms_pages("carol")
    answer = await phones.text("alice", f"1{code(carols.id)}")
    assert not answer.ok
    assert answer.text.startswith(f"Code {code(carols.id)} is not a current page of yours")
    assert (await incident(phones.app, number)).status == "triggered"
    [refused] = await phones.audit("phone:reply")
    assert (refused.actor, refused.outcome, refused.detail["reason"]) == (
        "alice",
        "denied",
        "stale code",
    )


async def test_pages_older_than_the_link_lifetime_cannot_be_answered(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    phones = rig(db, clock, chat, link_ttl="2m")
    number = await fire(phones.app)
    [page] = await phones.sms_pages("alice")
    await later(phones.app, clock, minutes=3)  # before step two, after the lifetime
    stale = await phones.text("alice", f"1{code(page.id)}")
    latest = await phones.text("alice", "1")
    assert not stale.ok and not latest.ok
    assert latest.text == "You have no current page to answer, so nothing was done."
    assert (await incident(phones.app, number)).status == "triggered"
    reasons = [r.detail["reason"] for r in await phones.audit("phone:reply")]
    assert reasons == ["stale code", "no current page"]


async def test_a_key_pressed_in_a_call_acknowledges_that_calls_incident(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    phones = rig(db, clock, chat)
    number = await fire(phones.app)
    [call] = [r for r in await page_rows(phones.app) if r.channel == "voice"]
    async with db.begin() as conn:  # the call as its provider's send recorded it
        await conn.execute(
            page_sends.insert().values(
                page_id=call.id,
                incident_id=number,
                provider="twilio",
                position=0,
                provider_ref="CA-answered",
                status="sent",
                detail="",
                sent_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    await later(phones.app, clock, seconds=30)
    elsewhere = await phones.answer("voice", PHONES["bob"], "1", "CA-answered")
    assert not elsewhere.ok  # bob's phone did not take that call
    answer = await phones.answer("voice", PHONES["alice"], "1", "CA-answered")
    assert answer.ok and answer.text == f"Alice acknowledged incident #{number}."
    row = await incident(phones.app, number)
    assert (row.acked_by, row.acked_via) == ("Alice", "voice_key")
    metrics = phones.app.services.metrics.registry
    assert metrics.get_sample_value("tocsin_page_ack_seconds_sum", {"channel": "voice"}) == 30


async def test_a_provider_retrying_a_reply_acts_once(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    phones = rig(db, clock, chat)
    number = await fire(phones.app)
    first = await phones.text("alice", "2", "SM-retried")
    again = await phones.text("alice", "2", "SM-retried")
    assert first.ok and again.ok
    assert f"escalated incident #{number}" in first.text
    assert again.text == "Your answer was already received; it is not acted on twice."
    assert len(await phones.audit("button:escalate")) == 1


async def test_text_that_is_not_an_answer_gets_the_instructions_and_changes_nothing(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    phones = rig(db, clock, chat)
    number = await fire(phones.app)
    for body in ("yes", "3", "1 KQDX", ""):
        answer = await phones.text("alice", body)
        assert not answer.ok and answer.text.startswith("Reply 1 to acknowledge")
    assert (await incident(phones.app, number)).status == "triggered"
    outcomes = {(r.outcome, r.detail["reason"]) for r in await phones.audit("phone:reply")}
    assert outcomes == {("invalid", "not an answer")}
    await later(phones.app, clock, minutes=5)
    assert (1, "carol", "sms") in paged(await page_rows(phones.app))  # escalation went on


async def test_answers_are_in_the_persons_language(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    phones = rig(db, clock, chat)
    await fire(phones.app)
    answer = await phones.text("bob", "hello")
    assert answer.lang == "zh" and answer.text.startswith("回复 1")


def test_numbers_compare_however_they_are_written() -> None:
    assert digits("+86 138-0000-0001") == digits("008613800000001") == "8613800000001"
    assert digits(PHONES["alice"]) != digits(STRANGER)
