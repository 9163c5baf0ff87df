"""Similar past incidents on a new incident's card: the latest earlier incidents of the same
alert name and service (at most three, newest first), each with when it happened, how it ended
and its review if it has one; unrelated incidents (another alert, another service) are not
linked. Expected lines are written out by hand from the history each test makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.bootstrap import Tocsin
from bot.cards import render
from bot.clock import FakeClock
from bot.model import Card
from bot.store.tables import rca_drafts
from tests.support import RecordingPlatform, resolved
from tests.unit.test_dispatch import say
from tests.unit.test_escalation import fire

T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)  # the FakeClock's start


def posted(chat: RecordingPlatform, number: int) -> Card:
    cards = [s.card for s in chat.sent if s.card and s.card.ref == f"incident:{number}"]
    return cards[-1]


def similar(card: Card, title: str = "Similar past incidents") -> tuple[str, ...]:
    return next((s.lines for s in card.sections if s.title == title), ())


async def review_of(app: Tocsin, incident: int, run: int) -> None:
    """A review draft written for `incident` (by its rollback run `run`)."""
    async with app.services.db.begin() as conn:
        await conn.execute(
            rca_drafts.insert().values(
                run_id=run,
                incident_id=incident,
                markdown="# Review",
                created_at=app.services.clock.now(),
            )
        )


async def resolve(app: Tocsin, number: int) -> None:
    reply: Any = await say(app, "U-ALICE", f"/resolve {number}")
    assert reply.ok, reply.text
    await app.engine.tick()


async def test_a_new_incident_links_the_similar_past_one_with_its_review_and_not_others(
    tocsin: Tocsin, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = tocsin
    past = await fire(app, "HighErrorRate", service="orders")
    clock.advance(timedelta(minutes=30))
    await resolve(app, past)
    other_alert = await fire(app, "DiskFull", service="orders")
    await resolve(app, other_alert)
    other_service = await fire(app, "HighErrorRate", service="payments")
    await resolve(app, other_service)
    await review_of(app, past, run=77)
    await review_of(app, other_alert, run=78)

    clock.advance(timedelta(days=2))
    new = await fire(app, "HighErrorRate", service="orders", instance="i-2")  # fired anew
    assert new not in (past, other_alert, other_service)
    assert similar(posted(chat, new)) == (
        f"#{past} · 2026-01-05 03:00 UTC · 2 days ago — resolved by Alice after 30 min · "
        f"review: /review show {past}",
    )
    # the unrelated ones have none like them: no section at all
    assert similar(posted(chat, other_alert)) == ()
    assert similar(posted(chat, other_service)) == ()

    # the copy `/incident show` answers with where Tocsin cannot post shows them too
    app.services.incidents.posts_to = frozenset()
    copy: Any = await say(app, "U-CAROL", f"/incident show {new}")
    assert copy.ok and copy.card is not None, copy.text
    assert similar(copy.card) == similar(posted(chat, new))

    # the review it links is there to read
    shown: Any = await say(app, "U-CAROL", f"/review show {past}")
    assert shown.ok and shown.text == "# Review"


async def test_the_three_latest_are_shown_newest_first_with_how_each_ended(
    tocsin: Tocsin, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = tocsin
    numbers = []
    for minutes in (5, 10, 15, 20):  # each cleared by its alert after `minutes`
        numbers.append(await fire(app, "HighErrorRate", service="orders"))
        clock.advance(timedelta(minutes=minutes))
        await app.ingest.ingest([resolved("HighErrorRate", service="orders")])
        await app.engine.tick()
        clock.advance(timedelta(hours=2) - timedelta(minutes=minutes))  # past reopen_window
    await review_of(app, numbers[2], run=90)
    new = await fire(app, "HighErrorRate", service="orders")
    assert clock.now() == T0 + timedelta(hours=8)

    lines = similar(posted(chat, new))
    assert lines == (
        f"#{numbers[3]} · 09:00 UTC · 2 h ago — its alerts cleared after 20 min · no review",
        f"#{numbers[2]} · 07:00 UTC · 4 h ago — its alerts cleared after 15 min · "
        f"review: /review show {numbers[2]}",
        f"#{numbers[1]} · 05:00 UTC · 6 h ago — its alerts cleared after 10 min · no review",
    )

    # re-rendered (in Chinese, an hour on): the same incidents, with how they stand now
    clock.advance(timedelta(hours=1))
    await review_of(app, numbers[3], run=91)
    async with app.services.db.connect() as conn:
        card = await render(conn, f"incident:{new}", clock.now(), "zh", silence_choices=())
    assert card is not None
    assert similar(card, "相似的历史事件") == (
        f"#{numbers[3]} · 09:00（世界标准时间） · 3 小时前 — 告警在 20 分钟后自行恢复 · "
        f"复盘：/review show {numbers[3]}",
        f"#{numbers[2]} · 07:00（世界标准时间） · 5 小时前 — 告警在 15 分钟后自行恢复 · "
        f"复盘：/review show {numbers[2]}",
        f"#{numbers[1]} · 05:00（世界标准时间） · 7 小时前 — 告警在 10 分钟后自行恢复 · 无复盘",
    )
