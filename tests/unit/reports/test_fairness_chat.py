"""/oncall report in chat: a short table in the reader's language and zone."""

from __future__ import annotations

from adapters.notify.memory import MemoryNotifier
from bot.clock import FakeClock
from bot.store.db import Database
from tests.support import RecordingPlatform
from tests.unit.test_dispatch import say
from tests.unit.test_escalation import wire


async def test_report_in_chat_reads_in_the_readers_language_and_zone(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    # The clock reads Monday 2026-01-05 03:00 UTC; daily turns at 00:00 UTC, Alice then Bob,
    # and the turns before the rotation's start follow the same order backwards.
    assert (await say(app, "U-BOB", "/tz Asia/Shanghai")).ok
    zh = await say(app, "U-BOB", "/值班 报告 2d")  # Saturday 03:00 UTC to now
    assert zh.ok, zh.text
    lines = zh.text.splitlines()
    assert lines[0] == "值班公平性报告"
    assert lines[1].startswith("2026-01-03 11:00（北京时间） → 2026-01-05 11:00（北京时间）")
    # Saturday is Alice's turn, Sunday Bob's, Monday Alice's: Alice 21 h + 3 h, Bob 24 h. All
    # off-hours: the weekend, Monday before 09:00 in UTC (Alice), and Bob's Sunday, which ends
    # Monday 08:00 in Shanghai.
    assert lines[2].startswith("• Alice：值班 24.0 小时（非工作时间 24.0 小时）")
    assert lines[3].startswith("• Bob：值班 24.0 小时（非工作时间 24.0 小时）")
    assert "周一至周五" in lines[-1]


async def test_report_refuses_an_unknown_schedule_and_a_silly_period(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryNotifier("sms"))
    unknown = await say(app, "U-ALICE", "/oncall report nosuch")
    assert not unknown.ok and "nosuch" in unknown.text
    long = await say(app, "U-ALICE", "/oncall report 400d")
    assert not long.ok and "366 days" in long.text
    fine = await say(app, "U-ALICE", "/oncall report primary")
    assert fine.ok and "schedules: primary" in fine.text
