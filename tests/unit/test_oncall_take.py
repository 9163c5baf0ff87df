"""/oncall take: asking to work someone else's shift, their answer on the card, the override it
leaves, the refusals, and two replicas pressing Accept at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.model import ActionKind
from bot.store.db import Database
from bot.store.tables import schedule_overrides, swap_requests
from tests.support import RecordingPlatform, make_settings
from tests.unit.test_dispatch import press, say
from tests.unit.test_escalation import paging_config, wire

# The schedule of `paging_config`: daily turns at 00:00 UTC from Monday 2026-01-05, Alice
# then Bob. The clock starts on Monday 03:00 UTC, in Alice's turn.
TUE, WED, THU, FRI = (datetime(2026, 1, d, tzinfo=UTC) for d in (6, 7, 8, 9))


async def rows(app: Tocsin, table: Any) -> list[Any]:
    async with app.services.db.connect() as conn:
        return list((await conn.execute(select(table).order_by(table.c.id))).all())


async def test_an_accepted_take_puts_the_taker_on_call_for_that_shift(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    asked = await say(app, "U-CAROL", "/oncall take @bob next")
    assert asked.ok, asked.text
    assert "Request #1 sent to Bob" in asked.text
    assert "2026-01-06 00:00 UTC → 2026-01-07 00:00 UTC" in asked.text
    await app.engine.tick()
    [card] = [s.card for s in chat.ops("post", "fake:@bob") if s.card]
    assert card.ref == "swap:1" and "Carol 接替 Bob 的班次" in card.title  # Bob reads Chinese
    assert [b.action for b in card.buttons] == [ActionKind.ACCEPT, ActionKind.DECLINE]

    refused = await press(app, "U-CAROL", ActionKind.ACCEPT, "swap:1")
    assert "Only Bob can accept" in refused.text
    accepted = await press(app, "U-BOB", ActionKind.ACCEPT, "swap:1")
    assert "Bob 接受了请求 #1：Carol 接替 Bob 的班次" in accepted.text
    [override] = await rows(app, schedule_overrides)
    assert (override.user_id, override.starts_at, override.ends_at) == ("carol", TUE, WED)
    assert override.reason == "take #1"
    [take] = await rows(app, swap_requests)
    assert (take.kind, take.status, take.requester, take.other) == (
        "take",
        "accepted",
        "carol",
        "bob",
    )
    await app.engine.tick()
    updated = [s.card for s in chat.ops("update", "fake:@bob") if s.card]
    assert updated and updated[-1].buttons == () and updated[-1].status == "swap.accepted"

    clock.set(TUE + timedelta(hours=1))
    now = await say(app, "U-ALICE", "/oncall")
    assert "Carol is on call until 2026-01-07 00:00 UTC" in now.text
    report = await say(app, "U-ALICE", "/oncall report 22h")  # from Monday 03:00, the take
    assert report.ok, report.text
    lines = {line.split(":")[0]: line for line in report.text.splitlines()}
    assert "21.0 h on call (12.0 h off-hours)" in lines["• Alice"]
    assert "1.0 h on call (1.0 h off-hours)" in lines["• Carol"]
    assert "takes 1" in lines["• Carol"]
    assert "0.0 h on call" in lines["• Bob"] and "given away 1" in lines["• Bob"]


async def test_a_declined_or_expired_take_changes_nothing(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    assert (await say(app, "U-CAROL", "/oncall take @bob next")).ok
    declined = await press(app, "U-BOB", ActionKind.DECLINE, "swap:1")
    assert "Bob 拒绝了换班 #1" in declined.text
    again = await press(app, "U-BOB", ActionKind.ACCEPT, "swap:1")
    assert "已被拒绝" in again.text

    assert (await say(app, "U-CAROL", "/oncall take @bob next")).ok
    clock.advance(timedelta(hours=24, minutes=1))  # a request waits a day at most
    late = await press(app, "U-BOB", ActionKind.ACCEPT, "swap:2")
    assert "已过期" in late.text
    assert await rows(app, schedule_overrides) == []
    assert [(r.kind, r.status) for r in await rows(app, swap_requests)] == [
        ("take", "declined"),
        ("take", "expired"),
    ]
    now = await say(app, "U-ALICE", "/oncall")
    assert "Bob is on call" in now.text


async def test_when_names_a_shift_in_the_readers_zone(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    # Wednesday is Alice's; Bob's shift following it is Thursday's.
    wed = await say(app, "U-CAROL", "/oncall take @bob wed")
    assert "2026-01-08 00:00 UTC → 2026-01-09 00:00 UTC" in wed.text
    # 12:00 today is in Alice's shift: Bob's next one follows it.
    noon = await say(app, "U-CAROL", "/oncall take @bob 12:00")
    assert "2026-01-06 00:00 UTC → 2026-01-07 00:00 UTC" in noon.text
    # A shift already running is taken from now on.
    running = await say(app, "U-BOB", "/oncall take @alice next")
    assert running.ok and "2026-01-05 03:00" in running.text
    # A date is read in the reader's zone: Friday 00:00 in Shanghai is Thursday 16:00 UTC,
    # in Bob's Thursday shift.
    assert (await say(app, "U-CAROL", "/tz Asia/Shanghai")).ok
    dated = await say(app, "U-CAROL", "/oncall take @bob 2026-01-09")
    assert "2026-01-08 08:00 CST → 2026-01-09 08:00 CST" in dated.text
    takes = await rows(app, swap_requests)
    assert [(r.requester, r.other, r.shift_start, r.shift_end) for r in takes] == [
        ("carol", "bob", THU, FRI),
        ("carol", "bob", TUE, WED),
        ("bob", "alice", clock.now(), TUE),
        ("carol", "bob", THU, FRI),
    ]


async def test_takes_that_cannot_be_are_refused_and_leave_nothing(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    own = await say(app, "U-ALICE", "/oncall take @alice next")
    assert not own.ok and "already yours" in own.text
    nobody = await say(app, "U-ALICE", "/oncall take @carol next")
    assert not nobody.ok and "Carol has no shift in primary" in nobody.text
    unknown = await say(app, "U-ALICE", "/oncall take @mallory next")
    assert not unknown.ok and "mallory" in unknown.text
    over = await say(app, "U-ALICE", "/oncall take @bob 2026-01-04")
    assert not over.ok and "already over" in over.text
    vague = await say(app, "U-ALICE", "/oncall take @bob someday")
    assert not vague.ok and "weekday" in vague.text
    bare = await say(app, "U-ALICE", "/oncall take @bob")
    assert not bare.ok and "/oncall take" in bare.text
    assert await rows(app, swap_requests) == []
    assert await rows(app, schedule_overrides) == []


async def test_swaps_and_covers_record_their_kind(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    config = paging_config()
    config["schedules"]["secondary"] = {
        "time_zone": "UTC",
        "rotations": [
            {"name": "solo", "participants": ["alice"], "shift": "daily", "start": "2026-01-05"}
        ],
    }
    app = wire(db, clock, chat, MemoryNotifier("sms"), schedules=config["schedules"])
    assert (await say(app, "U-ALICE", "/oncall swap @bob primary")).ok
    assert (await say(app, "U-ALICE", "/oncall swap @bob secondary")).ok  # Bob has no shift
    accepted = await press(app, "U-BOB", ActionKind.ACCEPT, "swap:2")
    assert "Bob 接受了请求 #2：Bob 代替 Alice 值班" in accepted.text
    assert [r.kind for r in await rows(app, swap_requests)] == ["swap", "cover"]


async def test_two_replicas_pressing_accept_at_once_make_one_override(
    db_url: str, db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    first = wire(db, clock, chat, MemoryNotifier("sms"))
    other_db = Database(db_url)
    try:
        second = bootstrap(
            make_settings(**paging_config()),
            clock=clock,
            platforms={"fake": RecordingPlatform()},
            database=other_db,
            notifiers={"sms": MemoryNotifier("sms")},
        )
        assert (await say(first, "U-CAROL", "/oncall take @bob next")).ok
        answers = await asyncio.gather(
            press(first, "U-BOB", ActionKind.ACCEPT, "swap:1"),
            press(second, "U-BOB", ActionKind.ACCEPT, "swap:1"),
        )
    finally:
        await other_db.dispose()
    texts = sorted(a.text for a in answers)
    assert len(texts) == 2 and "已被接受" in texts[0] + texts[1]
    assert sum("Bob 接受了请求 #1" in text for text in texts) == 1
    assert [(o.user_id, o.reason) for o in await rows(first, schedule_overrides)] == [
        ("carol", "take #1")
    ]
