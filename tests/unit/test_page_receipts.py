"""Providers' delivery reports: kept even when they come before their send is recorded,
applied to the send and its page, a failed one moving the page on, an undelivered P0 page
running the next step at once, polled providers asked; and how it reads in `/incident why` and
on the incident card."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin
from bot.cards import render
from bot.clock import FakeClock
from bot.errors import RetryableDelivery
from bot.paging.receipts import Receipts
from bot.ports import DeliveryReport, Provider, Sent
from bot.store.db import Database
from bot.store.tables import escalation_log, escalations, incidents, page_receipts, pages
from tests.support import RecordingPlatform
from tests.unit.test_dispatch import say
from tests.unit.test_escalation import PHONES, fire, later
from tests.unit.test_page_failover import chain_of, sends, sms_page, two, wire_chain


def receipts_of(app: Tocsin) -> Receipts:
    assert app.engine.receipts is not None
    return app.engine.receipts.receipts


def report(ref: str, status: Any, at: datetime, provider: str = "aliyun", detail: str = "") -> Any:
    return DeliveryReport(provider, ref, status, at, detail)


async def test_a_report_before_its_send_is_applied_when_the_send_is_recorded(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    aliyun, twilio = two()
    app = wire_chain(db, clock, chat, chain_of(aliyun, twilio, timedelta(minutes=2)))
    early = report("sms-1", "delivered", clock.now())  # the memory notifier's first reference
    assert await receipts_of(app).record([early]) == 0
    await fire(app)
    page = await sms_page(app)
    assert (page.provider_ref, page.delivery, page.confirm_by) == ("sms-1", "delivered", None)
    async with db.connect() as conn:
        assert [r.applied for r in await conn.execute(select(page_receipts))] == [True]


async def test_the_sweep_applies_a_report_whose_send_came_later(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    aliyun, twilio = two()
    app = wire_chain(db, clock, chat, chain_of(aliyun, twilio, timedelta(minutes=2)))
    await fire(app)
    async with db.begin() as conn:  # as if stored a moment before the send's record
        await conn.execute(
            page_receipts.insert().values(
                provider="aliyun",
                provider_ref="sms-1",
                status="delivered",
                detail="DELIVRD",
                at=clock.now(),
                received_at=clock.now(),
                applied=False,
            )
        )
    await later(app, clock, seconds=1)
    page = await sms_page(app)
    assert page.delivery == "delivered" and page.confirm_by is None
    await later(app, clock, minutes=3)
    assert twilio.sent == []


async def test_a_failed_report_moves_the_page_to_the_next_provider_at_once(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    aliyun, twilio = two()
    app = wire_chain(db, clock, chat, chain_of(aliyun, twilio, timedelta(minutes=2)))
    number = await fire(app)
    assert await receipts_of(app).record([report("sms-1", "undelivered", clock.now())]) == 1
    await app.engine.tick()
    assert [p.to for p in twilio.sent] == [PHONES["alice"]]
    assert await sends(app) == [("aliyun", 0, "undelivered"), ("twilio", 1, "sent")]
    await receipts_of(app).record([report("sms-1", "delivered", clock.now(), "twilio")])
    why = (await say(app, "U-ALICE", f"/incident why {number}")).text
    assert "aliyun reported undelivered → sent by twilio" in why
    assert "SMS delivered 03:00 UTC (twilio)" in why


async def test_a_late_sent_report_never_replaces_a_final_one(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    aliyun = MemoryNotifier("sms", provider="aliyun")
    app = wire_chain(db, clock, chat, [Provider("aliyun", aliyun)])
    await fire(app)
    await receipts_of(app).record([report("sms-1", "delivered", clock.now())])
    await receipts_of(app).record([report("sms-1", "sent", clock.now())])
    await receipts_of(app).record([report("sms-1", "failed", clock.now())])
    assert await sends(app) == [("aliyun", 0, "delivered")]
    assert (await sms_page(app)).delivery == "delivered"


async def test_an_undelivered_p0_page_runs_the_next_step_at_once(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    aliyun = MemoryNotifier("sms", provider="aliyun")
    app = wire_chain(db, clock, chat, [Provider("aliyun", aliyun)])
    number = await fire(app)
    clock.advance(timedelta(seconds=30))
    await receipts_of(app).record([report("sms-1", "undelivered", clock.now(), detail="30008")])
    async with db.connect() as conn:
        esc = (await conn.execute(select(escalations))).one()
        kinds = [r.kind for r in await conn.execute(select(escalation_log))]
    assert esc.next_at == clock.now() and kinds[-1] == "undelivered"
    await app.engine.tick()
    assert [p.to for p in aliyun.sent] == [PHONES["alice"], PHONES["carol"]]
    why = (await say(app, "U-ALICE", f"/incident why {number}")).text
    assert "SMS to alice undelivered: next step at once." in why
    assert "SMS undelivered (aliyun 30008)" in why


async def test_an_unanswered_call_with_providers_left_escalates_rather_than_fail_over(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    aliyun, twilio = two()
    app = wire_chain(db, clock, chat, chain_of(aliyun, twilio, timedelta(minutes=2)))
    await fire(app)
    clock.advance(timedelta(seconds=30))
    await receipts_of(app).record([report("sms-1", "no_answer", clock.now())])
    async with db.connect() as conn:
        esc = (await conn.execute(select(escalations))).one()
        kinds = [r.kind for r in await conn.execute(select(escalation_log))]
    assert esc.next_at == clock.now() and kinds[-1] == "undelivered"  # P0: nobody answered
    await later(app, clock, minutes=3)
    page = await sms_page(app)
    assert (page.status, page.delivery, page.confirm_by, twilio.sent) == (
        "sent",
        "no_answer",
        None,
        [],
    )


@dataclass
class PolledSms(MemoryNotifier):
    """A memory SMS provider whose reports are read by asking, as Aliyun's are."""

    asked: list[list[Sent]] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    unreachable: int = 0
    """The next this many asks fail as a throttled or unreachable provider does."""

    async def statuses(self, sends: Sequence[Sent]) -> list[DeliveryReport]:
        self.asked.append(list(sends))
        if self.unreachable:
            self.unreachable -= 1
            raise RetryableDelivery("aliyun QuerySendDetails: Throttling.User")
        return [
            DeliveryReport(
                self.provider, s.message_id, "delivered", s.sent_at + timedelta(seconds=5)
            )
            for s in sends
            if s.message_id in self.answers
        ]


async def test_a_polled_provider_is_asked_about_its_waiting_sends(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    polled = PolledSms("sms", provider="aliyun")
    twilio = MemoryNotifier("sms", provider="twilio")
    app = wire_chain(db, clock, chat, chain_of(polled, twilio, timedelta(minutes=2)))
    await fire(app)
    assert polled.asked == []  # too fresh to ask about
    polled.answers["sms-1"] = "delivered"
    await later(app, clock, seconds=31)
    assert [[(s.message_id, s.to) for s in sends] for sends in polled.asked] == [
        [("sms-1", PHONES["alice"])]
    ]
    page = await sms_page(app)
    assert page.delivery == "delivered" and page.confirm_by is None
    await later(app, clock, seconds=5)
    assert len(polled.asked) == 1  # every 30 s at most, and nothing waits now
    await later(app, clock, minutes=3)
    assert twilio.sent == []


async def test_a_provider_that_cannot_be_asked_is_asked_again_next_pass(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    polled = PolledSms("sms", provider="aliyun", unreachable=1)
    polled.answers["sms-1"] = "delivered"
    app = wire_chain(db, clock, chat, [Provider("aliyun", polled)])
    await fire(app)
    await later(app, clock, seconds=31)
    assert len(polled.asked) == 1 and (await sms_page(app)).delivery == ""
    async with db.connect() as conn:
        assert (await conn.execute(select(page_receipts))).all() == []
    await later(app, clock, seconds=31)
    assert len(polled.asked) == 2 and (await sms_page(app)).delivery == "delivered"


async def test_the_card_says_how_each_page_went_and_how_it_was_acknowledged(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    aliyun = MemoryNotifier("sms", provider="aliyun")
    app = wire_chain(db, clock, chat, [Provider("aliyun", aliyun)])
    number = await fire(app)
    clock.advance(timedelta(minutes=1))
    await receipts_of(app).record([report("sms-1", "delivered", clock.now())])
    clock.advance(timedelta(seconds=12))
    async with db.begin() as conn:
        await conn.execute(
            update(incidents)
            .where(incidents.c.id == number)
            .values(
                status="acknowledged", acked_by="alice", acked_at=clock.now(), acked_via="sms_reply"
            )
        )
    names = {"alice": "Alice"}
    async with db.connect() as conn:
        card = await render(
            conn, f"incident:{number}", clock.now(), "en", silence_choices=(), names=names
        )
        zh = await render(
            conn, f"incident:{number}", clock.now(), "zh", silence_choices=(), names=names
        )
    assert card is not None and zh is not None
    (paging,) = [f for f in card.fields if f.label == "Pages"]
    assert paging.value.splitlines() == [
        "SMS to Alice delivered 03:01 UTC",
        "Acknowledged via SMS reply 1 min 12 s after the first page",
    ]
    (zh_paging,) = [f for f in zh.fields if f.label == "呼叫"]
    assert "短信回复" in zh_paging.value and "1 分 12 秒" in zh_paging.value


async def test_a_card_without_phone_pages_has_no_pages_field(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire_chain(db, clock, chat, [Provider("aliyun", MemoryNotifier("sms"))])
    number = await fire(app, service="payments")  # a route without a policy: nobody paged
    async with db.connect() as conn:
        card = await render(conn, f"incident:{number}", clock.now(), "en", silence_choices=())
        assert (await conn.execute(select(pages))).first() is None
    assert card is not None and all(f.label != "Pages" for f in card.fields)
