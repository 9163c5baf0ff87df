"""Phone pages end to end: a real incident paged through the providers' own APIs (the loopback
fakes of Aliyun, Tencent Cloud and Twilio, which check each request's signing), the providers
calling back as they do (signed, or with the configured token), and what people then see —
the card, `/incident why`, the audit log — and what they can do from their phones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fake_aliyun import FakeAliyun
from fake_tencent import FakeTencent
from fake_twilio import FakeTwilio
from notify_support import aliyun_sms, tencent_sms, tencent_voice, twilio
from sqlalchemy import select

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.incidents.status import card_ref
from bot.paging import codes
from bot.store.db import Database
from bot.store.tables import audit_log, incidents, page_sends, pages
from tests.support import RecordingPlatform, make_settings
from tests.unit.test_dispatch import say
from tests.unit.test_escalation import PHONES, fire, later, paging_config

ALICE, STRANGER = PHONES["alice"], "+15550009999"
TOKEN = "tencent-callback-token-0123"


def wire(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    pagers: dict[str, Any],
    channels: tuple[str, ...] = ("chat", "sms"),
) -> Tocsin:
    config = paging_config(pagers=pagers)
    config["paging"]["channels"]["P0"] = list(channels)
    return bootstrap(make_settings(**config), clock=clock, platforms={"fake": chat}, database=db)


def on_twilio(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    api: FakeTwilio,
    closing: list[Tocsin],
    channel: str = "sms",
) -> Tocsin:
    """An app paging P0s by chat and `channel` through the fake Twilio, which calls it back."""
    app = wire(db, clock, chat, {channel: twilio(api.base_url)}, ("chat", channel))
    closing.append(app)
    api.callbacks_to("http://tocsin.test", app=app.app)
    return app


@pytest.fixture
async def closing() -> AsyncIterator[list[Tocsin]]:
    apps: list[Tocsin] = []
    yield apps
    for app in apps:
        for chain in app.notifiers.values():
            for provider in chain:
                await provider.notifier.aclose()


async def one(app: Tocsin, table: Any, *where: Any) -> Any:
    async with app.services.db.connect() as conn:
        return (await conn.execute(select(table).where(*where))).one()


async def incident(app: Tocsin, number: int) -> Any:
    return await one(app, incidents, incidents.c.id == number)


async def sms_page(app: Tocsin) -> Any:
    return await one(app, pages, pages.c.channel == "sms")


def latest_card(chat: RecordingPlatform, number: int) -> str:
    """The text of the fields of the incident's card as last shown in the chat."""
    card = [s.card for s in chat.sent if s.card is not None and s.card.ref == card_ref(number)][-1]
    return "\n".join(f"{f.label}: {f.value}" for f in card.fields)


async def test_a_hard_failure_moves_the_page_to_the_next_provider_and_sends_it_once(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    aliyun_api: FakeAliyun,
    tencent_api: FakeTencent,
    closing: list[Tocsin],
) -> None:
    aliyun_api.fail("SendSms", "isv.AMOUNT_NOT_ENOUGH")
    pagers = {"sms": [aliyun_sms(aliyun_api.base_url), tencent_sms(tencent_api.base_url)]}
    app = wire(db, clock, chat, pagers)
    closing.append(app)
    number = await fire(app)
    await later(app, clock, seconds=1)
    assert (aliyun_api.sent, [b["PhoneNumberSet"] for b in tencent_api.bodies("SendSms")]) == (
        [],
        [[ALICE]],
    )
    page = await sms_page(app)
    assert (page.status, page.provider) == ("sent", "tencent")
    why = (await say(app, "U-ALICE", f"/incident why {number}")).text
    assert "isv.AMOUNT_NOT_ENOUGH" in why and "tencent" in why


async def test_a_provider_that_does_not_answer_is_passed_over(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    aliyun_api: FakeAliyun,
    tencent_api: FakeTencent,
    closing: list[Tocsin],
) -> None:
    aliyun_api.hold("SendSms")  # accepts the connection, never answers
    pagers = {
        "sms": [
            aliyun_sms(aliyun_api.base_url, timeout="200ms"),
            tencent_sms(tencent_api.base_url),
        ]
    }
    app = wire(db, clock, chat, pagers)
    closing.append(app)
    await fire(app)
    assert aliyun_api.sent == []
    assert [b["PhoneNumberSet"] for b in tencent_api.bodies("SendSms")] == [[ALICE]]
    assert [(s.provider, s.status) for s in await sends(app)] == [
        ("aliyun", "failed"),
        ("tencent", "sent"),
    ]


async def sends(app: Tocsin) -> list[Any]:
    async with app.services.db.connect() as conn:
        return list((await conn.execute(select(page_sends).order_by(page_sends.c.id))).all())


async def test_a_twilio_delivery_report_reaches_the_card_and_a_forged_one_changes_nothing(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    twilio_api: FakeTwilio,
    closing: list[Tocsin],
) -> None:
    app = on_twilio(db, clock, chat, twilio_api, closing)
    number = await fire(app)
    [sid] = twilio_api.sids("Messages")
    forged = await twilio_api.deliver(sid, "delivered", token="not-the-auth-token")
    assert forged.status == 403
    assert (await sms_page(app)).delivery == ""
    assert (await twilio_api.deliver(sid, "delivered")).status in (200, 204)
    page = await sms_page(app)
    assert (page.delivery, page.delivered_at) == ("delivered", clock.now())
    await later(app, clock, seconds=1)  # the card pass redraws it
    assert "SMS" in latest_card(chat, number) and "delivered" in latest_card(chat, number)


async def test_replying_1_acknowledges_the_latest_page_as_its_owner(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    twilio_api: FakeTwilio,
    closing: list[Tocsin],
) -> None:
    app = on_twilio(db, clock, chat, twilio_api, closing)
    number = await fire(app)
    [form] = twilio_api.forms("Messages")
    page = await sms_page(app)
    assert f"1{codes.code(page.id)}" in form["Body"]
    clock.advance(timedelta(seconds=72))
    answer = await twilio_api.inbound(ALICE, "1")
    assert answer.status == 200 and f"#{number}" in (answer.message or "")
    row = await incident(app, number)
    assert (row.status, row.acked_via) == ("acknowledged", "sms_reply")
    assert row.acked_by in ("alice", "Alice")
    await later(app, clock, seconds=1)
    assert "SMS reply 1 min 12 s after the first page" in latest_card(chat, number)


async def test_an_old_pages_code_answers_that_page_not_the_newest(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    twilio_api: FakeTwilio,
    closing: list[Tocsin],
) -> None:
    app = on_twilio(db, clock, chat, twilio_api, closing)
    first = await fire(app, "HighErrorRate")
    await later(app, clock, minutes=1)
    second = await fire(app, "DiskFull")
    async with app.services.db.connect() as conn:
        rows = (await conn.execute(select(pages).where(pages.c.channel == "sms"))).all()
    older = next(r for r in rows if r.incident_id == first)
    await twilio_api.inbound(ALICE, f"1 {codes.code(older.id).lower()}")
    assert (await incident(app, first)).status == "acknowledged"
    assert (await incident(app, second)).status == "triggered"


async def test_unknown_numbers_and_stale_codes_are_refused_and_audited(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    twilio_api: FakeTwilio,
    closing: list[Tocsin],
) -> None:
    app = on_twilio(db, clock, chat, twilio_api, closing)
    number = await fire(app)
    page = await sms_page(app)
    stranger = await twilio_api.inbound(STRANGER, "1")
    assert (stranger.status, stranger.message) == (200, None)  # an empty <Response/>
    await later(app, clock, hours=13)  # past paging.link_ttl (12 h)
    stale = await twilio_api.inbound(ALICE, f"1{codes.code(page.id)}")
    assert stale.status == 200 and codes.code(page.id) in (stale.message or "")
    assert (await incident(app, number)).status == "triggered"
    async with app.services.db.connect() as conn:
        audit = (
            await conn.execute(select(audit_log).where(audit_log.c.outcome != "allowed"))
        ).all()
    actors = {(r.actor, r.outcome) for r in audit}
    assert (f"sms:{STRANGER}", "denied") in actors
    assert any(actor == "alice" for actor, _ in actors)


async def test_a_key_pressed_in_a_twilio_call_acknowledges_and_is_said_back(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    twilio_api: FakeTwilio,
    closing: list[Tocsin],
) -> None:
    app = on_twilio(db, clock, chat, twilio_api, closing, "voice")
    number = await fire(app)
    [sid] = twilio_api.sids("Calls")
    forged = await twilio_api.press(sid, "1", token="not-the-auth-token")
    assert forged.status == 403
    assert (await incident(app, number)).status == "triggered"
    pressed = await twilio_api.press(sid, "1")
    assert pressed.status == 200 and pressed.hung_up
    assert any(f"{number}" in words for words in pressed.said)
    row = await incident(app, number)
    assert (row.status, row.acked_via) == ("acknowledged", "voice_key")


async def test_tencent_reports_replies_and_keypresses_reach_the_incident(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    tencent_api: FakeTencent,
    closing: list[Tocsin],
) -> None:
    pagers = {
        "sms": tencent_sms(tencent_api.base_url, callback_token=TOKEN),
        "voice": tencent_voice(tencent_api.base_url, callback_token=TOKEN),
    }
    app = wire(db, clock, chat, pagers, ("chat", "sms", "voice"))
    closing.append(app)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.app), base_url="http://tocsin.test"
    )
    tencent_api.callbacks_to(client, TOKEN, clock=clock)
    try:
        number = await fire(app)
        serial = next(s for s, n in tencent_api.numbers.items() if n == ALICE and ":" in s)
        assert (await tencent_api.report(serial, token="wrong-token-0123456789")).status_code == 403
        assert (await sms_page(app)).delivery == ""
        assert (await tencent_api.report(serial)).status_code == 200
        assert (await sms_page(app)).delivery == "delivered"
        call = next(s for s, n in tencent_api.numbers.items() if n == ALICE and ":" not in s)
        assert (await tencent_api.keypress(call, "1")).status_code == 200
        row = await incident(app, number)
        assert (row.status, row.acked_via) == ("acknowledged", "voice_key")
    finally:
        await client.aclose()


async def test_aliyun_receipts_are_polled(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    aliyun_api: FakeAliyun,
    closing: list[Tocsin],
) -> None:
    aliyun_api.now = clock.now
    app = wire(db, clock, chat, {"sms": aliyun_sms(aliyun_api.base_url)})
    closing.append(app)
    await fire(app)
    [biz_id] = aliyun_api.sends
    aliyun_api.set_outcome(biz_id, "delivered")
    await later(app, clock, seconds=31)
    page = await sms_page(app)
    assert page.delivery == "delivered"
