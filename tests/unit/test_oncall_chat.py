"""/oncall in chat, overrides and swaps, hand-off announcements, gap warnings and the iCal feed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from sqlalchemy import select

from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import bootstrap
from bot.cli import main
from bot.clock import FakeClock
from bot.model import ActionKind, CardActionRequest, Sender
from bot.oncall.ical import parse_overrides
from bot.store.db import Database
from bot.store.tables import schedule_overrides, swap_requests
from bot.web.schedules import feed_token
from tests.support import SECRET_KEY, RecordingPlatform, make_settings
from tests.unit.test_dispatch import OPS, incident, say
from tests.unit.test_escalation import fire, later, page_rows, paging_config, wire


async def test_oncall_shows_who_now_and_next_in_the_readers_zone(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    reply = await say(app, "U-CAROL", "/oncall")
    assert reply.ok
    assert "primary: Alice is on call until 2026-01-06 00:00 UTC" in reply.text
    assert "next: Bob from 2026-01-06 00:00 UTC" in reply.text
    assert (await say(app, "U-CAROL", "/tz Asia/Shanghai")).ok
    shanghai = await say(app, "U-CAROL", "/oncall")
    assert "primary: Alice is on call until 2026-01-06 08:00 CST" in shanghai.text
    zh = await say(app, "U-BOB", "/值班 primary")
    assert "primary：Alice 值班至 2026-01-06 00:00（世界标准时间）" in zh.text
    unknown = await say(app, "U-BOB", "/oncall nosuch")
    assert not unknown.ok and "primary" in unknown.text


async def test_override_puts_someone_on_call_and_the_next_page_goes_to_them(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    sms = MemoryNotifier("sms")
    app = wire(db, clock, chat, sms)
    reply = await say(app, "U-ALICE", "/oncall override @bob 2h")
    assert reply.ok and "Bob is on call for primary from now until 2026-01-05 05:00 UTC" in (
        reply.text
    )
    now = await say(app, "U-CAROL", "/oncall")
    assert "Bob is on call until 2026-01-05 05:00 UTC" in now.text
    await fire(app)
    assert [p.to for p in sms.sent] == ["+8613800000002"]
    await app.engine.tick()
    handoffs = [s.text for s in chat.ops("text", "fake:ops") if "🔄" in s.text]
    assert handoffs and "Bob is on call now" in handoffs[-1]


async def test_override_for_someone_else_needs_the_oncall_grant(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    denied = await say(app, "U-BOB", "/oncall override @carol 2h")
    assert not denied.ok and "调整值班排班" in denied.text  # Bob reads Chinese
    mine = await say(app, "U-BOB", "/oncall override bob 30m")
    assert mine.ok
    bad = await say(app, "U-ALICE", "/oncall override @bob 45d")
    assert not bad.ok and "15 minutes and 30 days" in bad.text
    who = await say(app, "U-ALICE", "/oncall override @nobody 2h")
    assert not who.ok and "nobody" in who.text
    async with db.connect() as conn:
        rows = (await conn.execute(select(schedule_overrides))).all()
    assert [(r.user_id, r.created_by) for r in rows] == [("bob", "bob")]


async def test_swap_waits_for_the_other_persons_button(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    reply = await say(app, "U-ALICE", "/oncall swap @bob")
    assert reply.ok and "Swap request #1 sent to Bob" in reply.text
    await app.engine.tick()
    [card] = [s.card for s in chat.ops("post", "fake:@bob") if s.card]
    assert card.ref == "swap:1" and [b.action for b in card.buttons] == [
        ActionKind.ACCEPT,
        ActionKind.DECLINE,
    ]

    async def press(who: str, action: ActionKind, event: str) -> str:
        answer = await app.dispatcher.action(
            CardActionRequest(action, "swap:1", "", Sender("fake", who), OPS, event, clock.now())
        )
        return answer.text

    assert "Only Bob can accept" in await press("U-ALICE", ActionKind.ACCEPT, "s1")
    assert "Bob 接受了换班 #1：Alice 与 Bob 的班次已互换" in await press(
        "U-BOB", ActionKind.ACCEPT, "s2"
    )
    assert "已被接受" in await press("U-BOB", ActionKind.DECLINE, "s3")
    now = await say(app, "U-CAROL", "/oncall")
    assert "Bob is on call until 2026-01-06 00:00 UTC" in now.text
    assert "next: Alice from 2026-01-06 00:00 UTC" in now.text
    await app.engine.tick()
    updated = [s.card for s in chat.ops("update", "fake:@bob") if s.card]
    assert updated and updated[-1].buttons == () and updated[-1].status == "swap.accepted"
    async with db.connect() as conn:
        swap = (await conn.execute(select(swap_requests))).one()
    assert swap.status == "accepted" and swap.decided_at == clock.now()


async def test_hand_offs_are_announced_once_in_the_team_chat(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    await app.engine.tick()
    await app.engine.tick()
    first = [s.text for s in chat.ops("text", "fake:ops") if "🔄" in s.text]
    assert first == ["🔄 primary: Alice is on call now, until 2026-01-06 00:00 UTC."]
    await later(app, clock, hours=21)  # 2026-01-06 00:00 UTC: bob's day
    await app.engine.tick()
    texts = [s.text for s in chat.ops("text", "fake:ops") if "🔄" in s.text]
    assert texts[1:] == [
        "🔄 primary: Bob is on call now, until 2026-01-07 00:00 UTC (after Alice)."
    ]


async def test_a_gap_in_the_coming_week_is_warned_about_once(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    config = paging_config()
    config["schedules"]["primary"]["rotations"][0]["restrictions"] = [
        {"days": ["mon", "tue", "wed", "thu", "fri"]}
    ]
    app = wire(db, clock, chat, MemoryNotifier("sms"), schedules=config["schedules"])
    await app.engine.tick()
    await later(app, clock, hours=2)
    warnings = [s.text for s in chat.ops("text", "fake:ops") if "gap" in s.text]
    assert len(warnings) == 1
    assert "primary has 1 gap(s)" in warnings[0]
    assert "2026-01-10 00:00 UTC → 2026-01-12 00:00 UTC" in warnings[0]


async def test_incident_in_a_gap_pages_nobody_and_why_says_so(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    config = paging_config()
    config["schedules"]["primary"]["rotations"][0]["restrictions"] = [
        {"days": ["mon"], "start": "09:00", "end": "17:00"}
    ]
    app = wire(db, clock, chat, MemoryNotifier("sms"), schedules=config["schedules"])
    number = await fire(app)  # Monday 03:00 UTC: before working hours
    assert await page_rows(app) == []
    why = await say(app, "U-ALICE", f"/incident why {number}")
    assert "nobody is on call in primary right now" in why.text


async def test_ical_feed_needs_its_token_and_lists_the_shifts(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    await say(app, "U-ALICE", "/oncall override @bob 2h")
    link = await say(app, "U-CAROL", "/oncall ical")
    assert link.private and "/api/v1/schedules/primary.ics?token=" in link.text
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        token = feed_token(SECRET_KEY, "primary")
        ok = await client.get(f"/api/v1/schedules/primary.ics?token={token}")
        forged = await client.get("/api/v1/schedules/primary.ics?token=" + "0" * 32)
        other = await client.get(f"/api/v1/schedules/nosuch.ics?token={token}")
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/calendar")
    assert forged.status_code == 404 and other.status_code == 404
    users = {"alice": "alice", "bob": "bob"}
    events = parse_overrides(ok.text, users)
    start = clock.now()
    bob = [e for e in events if e.user == "bob" and e.start <= start < e.end]
    assert bob and bob[0].end == start + timedelta(hours=2)


async def test_email_page_acknowledge_link_acts_as_its_recipient_once_and_expires(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    email = MemoryNotifier("email")
    config = paging_config(paging={"channels": {"P0": ["email"]}, "link_ttl": "12h"})
    settings = make_settings(**config)
    app = bootstrap(
        settings, clock=clock, platforms={"fake": chat}, database=db, notifiers={"email": email}
    )
    number = await fire(app)
    [page] = email.sent
    assert page.to == "alice@example.com" and page.ack_url in page.text
    path = urlsplit(page.ack_url).path
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        confirm = await client.get(path)  # mail scanners prefetch links: GET never acts
        assert confirm.status_code == 200 and "<form" in confirm.text
        assert (await incident(app, number)).status == "triggered"
        done = await client.post(path)
        assert done.status_code == 200 and "acknowledged" in done.text
        again = await client.post(path)
        assert again.status_code == 409
    row = await incident(app, number)
    assert row.status == "acknowledged" and row.acked_by == "Alice"

    await later(app, clock, hours=1, minutes=1)  # the ack expired: alice is paged again
    assert len(email.sent) == 2
    clock.advance(timedelta(hours=13))
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        late = await client.post(urlsplit(email.sent[1].ack_url).path)
    assert late.status_code == 403


def test_overrides_import_from_an_ics_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = paging_config()
    raw["database"] = {"url": f"sqlite+aiosqlite:///{tmp_path / 't.db'}"}
    config = tmp_path / "tocsin.yaml"
    config.write_text(yaml.safe_dump(raw))
    ics = tmp_path / "holidays.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1@x\r\n"
        "DTSTART:20260210T000000Z\r\nDTEND:20260211T000000Z\r\nSUMMARY:On call: Bob\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert (
        main(["oncall", "import", "--config", str(config), "--schedule", "primary", str(ics)]) == 0
    )
    assert "1 overrides added to primary" in capsys.readouterr().out
    assert (
        main(["oncall", "import", "--config", str(config), "--schedule", "nosuch", str(ics)]) == 2
    )
    ics.write_text(ics.read_text().replace("Bob", "Mallory"))
    assert (
        main(["oncall", "import", "--config", str(config), "--schedule", "primary", str(ics)]) == 2
    )
    assert "Mallory" in capsys.readouterr().err
