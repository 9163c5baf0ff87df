"""The weekly noise card: posted once per period with two engines on one PostgreSQL, in each
chat's language, not again on the next tick, again the next week, and only the latest period
after a long stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.reports.weekly import REF, latest_moment
from bot.store.db import Database
from bot.store.tables import preferences, report_posts
from tests.support import RecordingPlatform, make_settings, migrated, postgres_database

NOISE = {
    "noise": {
        "chats": ["fake:ops", "fake:cn"],
        "day": "mon",
        "at": "09:00",
        "time_zone": "Asia/Shanghai",
    }
}


def replica(db: Database, clock: FakeClock, chat: RecordingPlatform) -> Tocsin:
    settings = make_settings(reports=NOISE)
    app = bootstrap(settings, clock=clock, platforms={"fake": chat}, database=db)
    return app


def posted(chat: RecordingPlatform) -> list[tuple[str, str]]:
    return [
        (s.dest, s.card.title)
        for s in chat.sent
        if s.op == "post" and s.card and s.card.ref.startswith(REF)
    ]


def test_the_weekly_moment_is_wall_time_in_its_zone() -> None:
    now = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # Mon 09:00 in Shanghai
    assert latest_moment(now, "mon", datetime(2000, 1, 1, 9).time(), "Asia/Shanghai") == now
    early = now - timedelta(seconds=1)
    assert latest_moment(early, "mon", now.time(), "UTC") == datetime(2026, 3, 2, 1, tzinfo=UTC)
    # New York springs forward on 8 March: Monday 09:00 is 13:00 UTC after, 14:00 before
    nine = datetime(2000, 1, 1, 9).time()
    assert latest_moment(now + timedelta(days=1), "mon", nine, "America/New_York") == datetime(
        2026, 3, 9, 13, tzinfo=UTC
    )
    assert latest_moment(now, "mon", nine, "America/New_York") == datetime(
        2026, 3, 2, 14, tzinfo=UTC
    )


@pytest.mark.postgres
async def test_posted_once_per_period_by_two_engines_in_each_chats_language() -> None:
    async with postgres_database() as url, migrated(url) as db:
        clock = FakeClock(datetime(2026, 3, 9, 0, 59, tzinfo=UTC))
        chat = RecordingPlatform()
        one, two = replica(db, clock, chat), replica(db, clock, chat)
        async with db.begin() as conn:
            await conn.execute(
                preferences.insert().values(
                    scope="chat:fake:cn", language="zh", timezone="Asia/Shanghai"
                )
            )
        await one.engine.tick()
        await two.engine.tick()
        # 08:59 in Shanghai: the latest period ended a week ago, and is posted once
        assert [title for dest, title in posted(chat) if dest == "fake:ops"] == [
            "Alert noise 2026-02-23 01:00 – 2026-03-02 01:00 UTC"
        ]
        del chat.sent[:]
        clock.advance(timedelta(minutes=2))
        await one.engine.tick()
        await two.engine.tick()
        await one.engine.tick()
        assert sorted(posted(chat)) == [
            ("fake:cn", "告警噪音报告 2026-03-02 09:00 – 2026-03-09 09:00 Asia/Shanghai"),
            ("fake:ops", "Alert noise 2026-03-02 01:00 – 2026-03-09 01:00 UTC"),
        ]
        clock.advance(timedelta(days=1))
        await two.engine.tick()
        await one.engine.tick()
        assert len(posted(chat)) == 2
        clock.advance(timedelta(days=6))
        await two.engine.tick()
        await one.engine.tick()
        assert len(posted(chat)) == 4
        # down for three weeks: only the latest period
        clock.advance(timedelta(days=21))
        await one.engine.tick()
        await two.engine.tick()
        assert len(posted(chat)) == 6
        async with db.connect() as conn:
            starts = (await conn.execute(select(report_posts.c.period_start))).scalars().all()
        assert sorted(s.date().isoformat() for s in starts) == [
            "2026-02-23",
            "2026-03-02",
            "2026-03-09",
            "2026-03-30",
        ]
