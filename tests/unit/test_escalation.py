"""Escalation scenarios on a fake clock (fast-forward, then one engine round): who is paged,
when, on which channels, and that acknowledgements, expiry and resolve do what people expect."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.model import ActionKind
from bot.store.db import Database
from bot.store.tables import escalations, pages
from tests.support import RecordingPlatform, base_config, firing, make_settings, resolved
from tests.unit.test_dispatch import press, say

PHONES = {"alice": "+8613800000001", "bob": "+8613800000002", "carol": "+8613800000003"}


def paging_config(**overrides: Any) -> dict[str, Any]:
    config = base_config()
    for user in config["users"]:
        user["contact"] = {"phone": PHONES[user["id"]], "email": f"{user['id']}@example.com"}
    config["routes"][1]["escalation_policy"] = "primary"
    config["schedules"] = {
        "primary": {
            "time_zone": "UTC",
            "rotations": [
                {
                    "name": "daily",
                    "participants": ["alice", "bob"],
                    "shift": "daily",
                    "start": "2026-01-05T00:00",
                }
            ],
            "announce": ["fake:ops"],
        }
    }
    config["escalation_policies"] = {
        "primary": {
            "steps": [
                {"targets": ["schedule:primary"], "delay": "5m"},
                {"targets": ["user:carol", "chat:fake:leads"], "delay": "10m"},
            ]
        }
    }
    config["paging"] = {"channels": {"P0": ["chat", "sms"], "P1": ["chat"], "P2": ["chat"]}}
    config.update(overrides)
    return config


def wire(
    db: Database, clock: FakeClock, chat: RecordingPlatform, sms: MemoryNotifier, **overrides: Any
) -> Tocsin:
    settings = make_settings(**paging_config(**overrides))
    app = bootstrap(
        settings, clock=clock, platforms={"fake": chat}, database=db, notifiers={"sms": sms}
    )
    return app


async def fire(app: Tocsin, name: str = "HighErrorRate", **labels: Any) -> int:
    result = await app.ingest.ingest([firing(name, **labels)])
    await app.engine.tick()
    return int(result.incident_ids[0])


async def later(app: Tocsin, clock: FakeClock, **delta: float) -> None:
    clock.advance(timedelta(**delta))
    await app.engine.tick()


async def page_rows(app: Tocsin) -> list[Any]:
    async with app.services.db.connect() as conn:
        return list((await conn.execute(select(pages).order_by(pages.c.id))).all())


def paged(rows: list[Any]) -> list[tuple[int, str, str]]:
    return [(r.step, r.recipient, r.channel) for r in rows]


async def test_step_one_pages_the_on_call_then_step_two_after_the_delay_then_ack_stops_it(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    sms = MemoryNotifier("sms")
    app = wire(db, clock, chat, sms)
    number = await fire(app)
    # 03:00 UTC on 2026-01-05: alice's day in the daily rotation
    assert paged(await page_rows(app)) == [(0, "alice", "chat"), (0, "alice", "sms")]
    assert [p.to for p in sms.sent] == [PHONES["alice"]]
    assert "#1" in sms.sent[0].text and sms.sent[0].ack_url.startswith("http://tocsin.test/a/")
    dm = chat.ops("post", "fake:@alice")
    assert dm and dm[0].card is not None and dm[0].card.ref == f"incident:{number}"
    assert chat.ops("text", "fake:@alice") == []  # the new card is the page

    await later(app, clock, minutes=4, seconds=59)
    assert len(await page_rows(app)) == 2  # nothing before the delay
    await later(app, clock, seconds=1)
    assert paged(await page_rows(app))[2:] == [
        (1, "carol", "chat"),
        (1, "carol", "sms"),
        (1, "chat:fake:leads", "chat"),
    ]
    assert chat.ops("post", "fake:leads")

    reply = await press(app, "U-CAROL", ActionKind.ACK, f"incident:{number}")
    assert reply.ok
    await later(app, clock, minutes=30)
    assert len(await page_rows(app)) == 5
    async with db.connect() as conn:
        esc = (await conn.execute(select(escalations))).one()
    assert esc.state in ("stopped", "exhausted")
    # the paged people's cards show the acknowledgement too
    last = chat.ops("update", "fake:@alice")[-1]
    assert last.card is not None and last.card.status == "acknowledged"


async def test_an_expired_acknowledgement_pages_again_from_step_one(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    sms = MemoryNotifier("sms")
    app = wire(db, clock, chat, sms)
    number = await fire(app)
    await later(app, clock, minutes=1)
    await press(app, "U-ALICE", ActionKind.ACK, f"incident:{number}")
    await later(app, clock, minutes=10)
    assert len(sms.sent) == 1  # acknowledged: step 2 never ran
    await later(app, clock, hours=1)  # ack_timeout is 1h in the test settings
    rows = await page_rows(app)
    assert [(r.cycle, r.step, r.recipient, r.channel) for r in rows][-2:] == [
        (2, 0, "alice", "chat"),
        (2, 0, "alice", "sms"),
    ]
    assert len(sms.sent) == 2
    # the card already sits in alice's chat: this time a threaded reminder rings her
    [reminder] = chat.ops("text", "fake:@alice")
    assert "You are paged for incident #1" in reminder.text and reminder.ref


async def test_resolve_stops_everything_and_an_unsent_sms_is_not_sent(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    sms = MemoryNotifier("sms")
    sms.fail_next(1, retry_after=60)
    app = wire(db, clock, chat, sms)
    await fire(app, service="orders")
    assert sms.sent == [] and sms.attempts == 1  # waiting to be retried in a minute
    await app.ingest.ingest([resolved(service="orders")])
    await later(app, clock, minutes=20)
    rows = await page_rows(app)
    assert [(r.recipient, r.channel, r.status) for r in rows] == [
        ("alice", "chat", "queued"),
        ("alice", "sms", "cancelled"),
    ]
    assert sms.sent == []


async def test_escalate_button_runs_the_next_step_now(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    sms = MemoryNotifier("sms")
    app = wire(db, clock, chat, sms)
    number = await fire(app)
    card = chat.ops("post", "fake:ops")[0].card
    assert card is not None and ActionKind.ESCALATE in [b.action for b in card.buttons]
    reply = await press(app, "U-BOB", ActionKind.ESCALATE, f"incident:{number}")
    assert reply.ok and reply.private
    await app.engine.tick()
    assert (1, "carol", "sms") in paged(await page_rows(app))
    assert any("escalated incident" in s.text for s in chat.ops("text", "fake:ops"))
    # pressing again after the last step pages the last step again, never a duplicate key
    await press(app, "U-BOB", ActionKind.ESCALATE, f"incident:{number}")
    await app.engine.tick()
    assert len(sms.to(PHONES["carol"])) == 1  # one SMS a minute per person: the next one waits
    await later(app, clock, seconds=61)
    rows = await page_rows(app)
    assert len({(r.cycle, r.loop, r.step, r.recipient, r.channel) for r in rows}) == len(rows)
    assert len(sms.to(PHONES["carol"])) == 2


async def test_a_viewer_may_not_escalate(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    number = await fire(app)
    reply = await press(app, "U-CAROL", ActionKind.ESCALATE, f"incident:{number}")
    assert not reply.ok
    await app.engine.tick()
    assert {r.step for r in await page_rows(app)} == {0}


async def test_incident_why_explains_who_was_paged_and_who_was_not(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    sms = MemoryNotifier("sms")
    config_users = paging_config()["users"]
    config_users[2]["contact"] = {}  # carol: no phone
    app = wire(db, clock, chat, sms, users=config_users)
    number = await fire(app)
    await later(app, clock, minutes=5)
    reply = await say(app, "U-ALICE", f"/incident why {number}")
    text = reply.text
    assert "Policy: primary" in text
    assert "alice via schedule:primary (daily" in text
    assert "chat delivered (03:00 UTC)" in text and "SMS sent (sms-1)" in text
    assert "not paged: bob — not on call in primary (alice is)" in text
    assert "carol: no phone number, so no SMS" in text
    assert "Next step due" not in text and "Every step has run" in text
    zh = await say(app, "U-BOB", f"/incident why {number}")
    assert "策略：primary" in zh.text


async def test_routes_without_a_policy_page_nobody_and_say_so(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    number = await fire(app, service="payments")  # the payments route names no policy
    assert await page_rows(app) == []
    reply = await say(app, "U-ALICE", f"/incident why {number}")
    assert "No escalation policy applies" in reply.text


async def test_sms_over_the_rate_window_waits_and_is_never_dropped(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    sms = MemoryNotifier("sms")
    app = wire(
        db,
        clock,
        chat,
        sms,
        paging={
            "channels": {"P0": ["sms"]},
            "rate_limits": {"sms": [{"count": 1, "per": "1m"}]},
        },
    )
    await fire(app, "A")
    await fire(app, "B")
    assert len(sms.sent) == 1
    rows = await page_rows(app)
    assert [r.reason for r in rows if r.status == "pending"] == ["throttled"]
    await later(app, clock, seconds=61)
    assert len(sms.sent) == 2


async def test_a_failing_provider_is_retried_then_recorded_as_failed(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    sms = MemoryNotifier("sms")
    sms.fail_next(1, permanent=True)
    app = wire(db, clock, chat, sms)
    await fire(app)
    rows = await page_rows(app)
    assert [(r.channel, r.status) for r in rows] == [("chat", "queued"), ("sms", "failed")]
    assert "permanent" in rows[1].reason
