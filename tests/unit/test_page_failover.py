"""A phone page reaches someone whatever one provider does: a hard failure, a provider that
never answers and a send not confirmed delivered in time each move the page to the next
provider that takes the number, and a page confirmed delivered never goes out twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.paging import codes
from bot.paging.chains import chains
from bot.paging.failover import providers_for
from bot.ports import DeliveryReport, Provider
from bot.store.db import Database
from bot.store.tables import page_sends, pages
from tests.support import RecordingPlatform, make_settings
from tests.unit.test_escalation import PHONES, fire, later, paging_config
from tests.unit.test_pages_exactly_once import add_pages, sender

ALICE = PHONES["alice"]


def two(confirm: timedelta | None = timedelta(minutes=2)) -> tuple[MemoryNotifier, MemoryNotifier]:
    return MemoryNotifier("sms", provider="aliyun"), MemoryNotifier("sms", provider="twilio")


def wire_chain(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    providers: list[Provider],
    **overrides: Any,
) -> Tocsin:
    settings = make_settings(**paging_config(**overrides))
    return bootstrap(
        settings,
        clock=clock,
        platforms={"fake": chat},
        database=db,
        notifiers={"sms": providers},
    )


def chain_of(
    first: MemoryNotifier, second: MemoryNotifier, confirm: timedelta | None = None
) -> list[Provider]:
    return [Provider("aliyun", first, confirm_within=confirm), Provider("twilio", second)]


async def sms_page(app: Tocsin) -> Any:
    async with app.services.db.connect() as conn:
        return (await conn.execute(select(pages).where(pages.c.channel == "sms"))).first()


async def sends(app: Tocsin) -> list[tuple[str, int, str]]:
    async with app.services.db.connect() as conn:
        rows = await conn.execute(select(page_sends).order_by(page_sends.c.id))
        return [(r.provider, r.position, r.status) for r in rows]


async def test_a_hard_failure_moves_the_page_to_the_next_provider_at_once(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    aliyun, twilio = two()
    aliyun.refused.add(ALICE)
    app = wire_chain(db, clock, chat, chain_of(aliyun, twilio))
    await fire(app)
    assert (aliyun.sent, [p.to for p in twilio.sent]) == ([], [ALICE])
    page = await sms_page(app)
    assert (page.status, page.provider, page.provider_pos, page.attempts) == (
        "sent",
        "twilio",
        1,
        2,
    )
    assert page.confirm_by is None
    assert await sends(app) == [("aliyun", 0, "failed"), ("twilio", 1, "sent")]
    (sent,) = twilio.sent
    code = codes.code(page.id)
    assert (sent.code, sent.params["code"]) == (code, code)
    assert (
        sent.prompt
        == f"Reply 1 to acknowledge #1, 2 to escalate (1{code} / 2{code} for this page)."
    )
    assert "Reply 1" not in sent.text  # the adapter adds the prompt to what it sends
    await later(app, clock, minutes=3)
    assert len(twilio.sent) == 1  # delivered once


async def test_a_provider_that_never_answers_is_left_for_the_next_one(db: Database) -> None:
    clock = FakeClock()
    await add_pages(db, clock, 1)
    aliyun, twilio = two()
    aliyun.hanging = True
    given: Any = chain_of(aliyun, twilio)
    replica = sender(db, clock, given, timedelta(seconds=60), send_timeout=timedelta(seconds=0.2))
    assert await replica.run_once() == 2  # the same pass takes it again, for the next one
    async with db.connect() as conn:
        (row,) = (await conn.execute(select(pages))).all()
        tried = [(r.provider, r.status, r.detail) for r in await conn.execute(select(page_sends))]
    assert (row.status, row.provider, row.provider_pos) == ("sent", "twilio", 1)
    assert tried == [("aliyun", "failed", "provider timeout"), ("twilio", "sent", "")]
    assert [p.to for p in twilio.sent] == [ALICE] and aliyun.sent == []
    aliyun.release()


async def test_a_send_not_confirmed_delivered_in_time_goes_to_the_next_provider(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    aliyun, twilio = two()
    app = wire_chain(db, clock, chat, chain_of(aliyun, twilio, timedelta(minutes=2)))
    await fire(app)
    page = await sms_page(app)
    assert len(aliyun.sent) == 1 and page.confirm_by == clock.now() + timedelta(minutes=2)
    await later(app, clock, minutes=1, seconds=59)
    assert twilio.sent == []
    await later(app, clock, seconds=1)
    assert [p.to for p in twilio.sent] == [ALICE]
    page = await sms_page(app)
    assert (page.status, page.provider, page.provider_pos) == ("sent", "twilio", 1)
    assert page.reason == "" and page.confirm_by is None  # the last provider: sent is enough
    assert await sends(app) == [("aliyun", 0, "superseded"), ("twilio", 1, "sent")]


async def test_a_delivered_report_stops_the_failover(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    aliyun, twilio = two()
    app = wire_chain(db, clock, chat, chain_of(aliyun, twilio, timedelta(minutes=2)))
    await fire(app)
    page = await sms_page(app)
    receipts = app.engine.receipts
    assert receipts is not None
    report = DeliveryReport("aliyun", page.provider_ref, "delivered", clock.now())
    assert await receipts.receipts.record([report]) == 1
    await later(app, clock, minutes=4)  # past confirm_by, before the next step
    assert twilio.sent == []
    page = await sms_page(app)
    assert (page.status, page.delivery, page.confirm_by) == ("sent", "delivered", None)
    assert page.delivered_at == report.at
    assert await sends(app) == [("aliyun", 0, "delivered")]


async def test_a_page_of_an_acknowledged_incident_stops_waiting_for_confirmation(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    from tests.unit.test_dispatch import say

    aliyun, twilio = two()
    app = wire_chain(db, clock, chat, chain_of(aliyun, twilio, timedelta(minutes=2)))
    number = await fire(app)
    await say(app, "U-ALICE", f"/ack {number}")
    await later(app, clock, minutes=3)
    page = await sms_page(app)
    assert (page.status, page.confirm_by, twilio.sent) == ("sent", None, [])


async def test_no_provider_that_takes_the_number_fails_the_page(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    us_only = MemoryNotifier("sms", provider="twilio")
    app = wire_chain(db, clock, chat, [Provider("twilio", us_only, prefixes=("+1",))])
    await fire(app)
    page = await sms_page(app)
    assert (page.status, page.reason) == ("failed", f"no sms provider takes {ALICE}")
    assert us_only.attempts == 0


def test_a_persons_chosen_providers_come_first_then_the_rest_that_take_the_number() -> None:
    config = paging_config()
    config["users"][1]["contact"]["providers"] = {"sms": ["twilio"]}  # bob
    config["users"][2]["contact"]["phone"] = "+14155550100"  # carol
    settings = make_settings(**config)
    users = {u.id: u for u in settings.users}
    given = chains(
        {
            "sms": [
                Provider("aliyun", MemoryNotifier("sms"), prefixes=("+86",)),
                Provider("tencent", MemoryNotifier("sms"), prefixes=("+86",)),
                Provider("twilio", MemoryNotifier("sms")),
            ]
        }
    )

    def names(who: str) -> list[str]:
        page = _Page(who, "sms", settings.users[list(users).index(who)].contact.phone or "")
        return [p.name for p in providers_for(given, users, page)]

    assert names("alice") == ["aliyun", "tencent", "twilio"]
    assert names("bob") == ["twilio", "aliyun", "tencent"]
    assert names("carol") == ["twilio"]


class _Page:
    def __init__(self, recipient: str, channel: str, address: str) -> None:
        self.recipient, self.channel, self.address = recipient, channel, address
