"""Maintenance windows end to end on a fake clock: /maint with grants, alerts during a window
(marked, nobody paged below the tiers that always page), paging once the window ends or is
ended, what /incident why says, recurring windows written once, and pruning."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.maintenance.upkeep import RecurringWindows
from bot.retention import prune
from bot.store.db import Database
from bot.store.tables import audit_log, escalation_log, incidents, maintenance_windows
from tests.support import RecordingPlatform
from tests.unit.test_dispatch import say
from tests.unit.test_escalation import fire, later, page_rows, paged, wire

ROLES = {
    "sre": {"grants": ["*"]},
    "dev": {"grants": ["view", "ack", "maint:orders:prod"]},
    "viewer": {"grants": ["view"]},
}


def app_with(db: Database, clock: FakeClock, chat: RecordingPlatform, **extra: Any) -> Tocsin:
    return wire(db, clock, chat, MemoryNotifier("sms"), roles=ROLES, **extra)


async def windows(db: Database) -> list[Any]:
    async with db.connect() as conn:
        stmt = select(maintenance_windows).order_by(maintenance_windows.c.id)
        return list((await conn.execute(stmt)).all())


async def mark_of(db: Database, number: int) -> int | None:
    async with db.connect() as conn:
        stmt = select(incidents.c.maintenance_id).where(incidents.c.id == number)
        return (await conn.execute(stmt)).scalar_one()  # type: ignore[no-any-return]


def field(chat: RecordingPlatform, dest: str, name: str) -> str | None:
    cards = [s.card for s in chat.sent if s.dest == dest and s.card is not None]
    return next((f.value for f in cards[-1].fields if f.label == name), None) if cards else None


# -- /maint ------------------------------------------------------------------------------------


async def test_maint_start_opens_a_window_says_until_when_and_audits_it(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = app_with(db, clock, chat)
    reply = await say(app, "U-BOB", "/maint start orders prod 2h upgrading the database")
    assert reply.ok and not reply.private, reply.text
    assert "05:00" in reply.text and "#1" in reply.text  # Bob reads Chinese
    (row,) = await windows(db)
    assert (row.kind, row.service, row.environment, row.created_by) == (
        "manual",
        "orders",
        "prod",
        "bob",
    )
    assert row.reason == "upgrading the database"
    assert row.ends_at == row.starts_at + timedelta(hours=2)
    async with db.connect() as conn:
        entries = (await conn.execute(select(audit_log).order_by(audit_log.c.id))).all()
    named = [e for e in entries if e.action == "maintenance.start"]
    assert named and named[0].target == "maintenance:1" and named[0].detail["window"] == 1
    assert any(e.action == "command:maint" and e.outcome == "allowed" for e in entries)

    listed = (await say(app, "U-ALICE", "/maint list")).text
    assert "#1 orders / prod" in listed and "upgrading the database" in listed
    assert "until 05:00 UTC" in listed


async def test_maint_refuses_bad_input_and_people_without_the_grant_and_changes_nothing(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = app_with(db, clock, chat)
    refused = {
        "/maint start orders staging 1h": "U-BOB",  # bob's grant is orders in prod only
        "/maint start * prod 1h": "U-BOB",  # every service needs a grant over every service
        "/maint start orders prod 1h": "U-CAROL",  # a viewer
        "/maint start nosuch prod 1h": "U-ALICE",
        "/maint start orders qa 1h": "U-ALICE",
        "/maint start orders prod 8d": "U-ALICE",  # past maintenance.max_duration (7d)
        "/maint start orders prod soon": "U-ALICE",
        "/maint start orders prod": "U-ALICE",
        "/maint end 99": "U-ALICE",
        "/maint end x": "U-ALICE",
    }
    texts = {}
    for command, who in refused.items():
        reply = await say(app, who, command)
        assert not reply.ok, command
        texts[command] = reply.text
    assert await windows(db) == []
    assert "nosuch" in texts["/maint start nosuch prod 1h"]
    assert "qa" in texts["/maint start orders qa 1h"]
    assert "7d" in texts["/maint start orders prod 8d"]
    assert "soon" in texts["/maint start orders prod soon"]
    assert "#99" in texts["/maint end 99"]
    denied = "You may not put into maintenance orders in prod: none of your roles (viewer)"
    assert texts["/maint start orders prod 1h"].startswith(denied)
    # alice may open one over every service; bob may end his own scope's only
    assert (await say(app, "U-ALICE", "/maint start * * 30m")).ok
    assert not (await say(app, "U-BOB", "/maint end 1")).ok
    assert (await windows(db))[0].ended_at is None


# -- paging ------------------------------------------------------------------------------------


async def test_an_alert_during_a_window_is_marked_pages_nobody_then_pages_when_it_ends(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = app_with(db, clock, chat)
    assert (await say(app, "U-ALICE", "/maint start orders prod 1h db upgrade")).ok
    number = await fire(app, severity="warning")  # P2
    await app.engine.tick()
    assert paged(await page_rows(app)) == []
    assert await mark_of(db, number) == 1
    assert field(chat, "fake:ops", "Maintenance") == "/maint by alice: db upgrade, until 04:00 UTC"
    why = (await say(app, "U-ALICE", f"/incident why {number}")).text
    assert "Paging held 03:00 UTC: maintenance window #1 until 04:00 UTC." in why

    await later(app, clock, minutes=30)
    assert paged(await page_rows(app)) == []
    await later(app, clock, minutes=30)  # 04:00: the window is over, the incident still fires
    assert paged(await page_rows(app)) == [(0, "alice", "chat")]
    # the page (the card, sent to alice) and the chat's card say the window it met is over
    ended = "/maint by alice: db upgrade, ended 04:00 UTC"
    await app.engine.tick()  # the chat's card is refreshed by the next upkeep pass
    assert field(chat, "fake:@alice", "Maintenance") == ended
    assert field(chat, "fake:ops", "Maintenance") == ended
    async with db.connect() as conn:
        held = await conn.execute(
            select(func.count()).where(escalation_log.c.kind == "maintenance")
        )
        assert held.scalar_one() == 1  # held once, logged once


async def test_p0_during_a_window_still_pages_and_its_card_is_marked(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = app_with(db, clock, chat)
    assert (await say(app, "U-ALICE", "/maint start orders * 1h")).ok
    number = await fire(app)  # critical: P0
    assert paged(await page_rows(app)) == [(0, "alice", "chat"), (0, "alice", "sms")]
    assert await mark_of(db, number) == 1
    why = (await say(app, "U-ALICE", f"/incident why {number}")).text
    assert "in maintenance window #1, but this tier pages all the same" in why
    # another service is not in the window
    other = await fire(app, "Other", service="payments", severity="warning")
    assert await mark_of(db, other) is None
    # nothing was held, yet once the window is over its card says so

    def mark_line() -> str | None:
        cards = [s.card for s in chat.sent if s.card and s.card.ref == f"incident:{number}"]
        return next((f.value for f in cards[-1].fields if f.label == "Maintenance"), None)

    assert mark_line() == "/maint by alice: no reason given, until 04:00 UTC"
    await later(app, clock, minutes=65)
    assert mark_line() == "/maint by alice: no reason given, ended 04:00 UTC"


async def test_cards_of_a_window_that_ended_are_redrawn_once_by_the_upkeep_pass(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = app_with(db, clock, chat)
    assert (await say(app, "U-ALICE", "/maint start orders * 1h")).ok
    marked_open = await fire(app)
    marked_resolved = await fire(app, "Gone")
    outside = await fire(app, "Other", service="payments")
    await say(app, "U-ALICE", f"/resolve {marked_resolved}")
    upkeep = RecurringWindows(app.services.settings, db)
    start = clock.now()

    async def due() -> dict[int, Any]:
        async with db.connect() as conn:
            rows = await conn.execute(select(incidents.c.id, incidents.c.card_due_at))
            return {row.id: row.card_due_at for row in rows}

    assert await upkeep.refresh_ended(start, start + timedelta(minutes=30)) == 0
    end = start + timedelta(hours=1, minutes=5)
    assert await upkeep.refresh_ended(start + timedelta(minutes=30), end) == 1
    cards = await due()
    assert cards[marked_open] == end
    assert cards[marked_resolved] is None and cards[outside] is None
    assert await upkeep.refresh_ended(end, end + timedelta(minutes=5)) == 0  # once


async def test_maint_end_releases_held_paging_at_once(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = app_with(db, clock, chat)
    assert (await say(app, "U-BOB", "/maint start orders prod 4h")).ok
    await fire(app, severity="warning")
    await later(app, clock, minutes=10)
    assert paged(await page_rows(app)) == []
    reply = await say(app, "U-BOB", "/maint end 1")
    assert reply.ok, reply.text
    await app.engine.tick()
    assert paged(await page_rows(app)) == [(0, "alice", "chat")]
    assert not (await say(app, "U-BOB", "/maint end 1")).ok  # already ended
    async with db.connect() as conn:
        actions = (await conn.execute(select(audit_log.c.action))).scalars().all()
    assert "maintenance.end" in actions


async def test_a_new_episode_outside_any_window_is_no_longer_marked(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = app_with(db, clock, chat)
    assert (await say(app, "U-ALICE", "/maint start orders prod 30m")).ok
    number = await fire(app, severity="warning")
    assert await mark_of(db, number) == 1
    await later(app, clock, minutes=40)
    await say(app, "U-ALICE", f"/ack {number}")
    await say(app, "U-ALICE", f"/unack {number}")  # a new episode, after the window
    await app.engine.tick()
    assert await mark_of(db, number) is None


async def test_a_deploy_window_holds_paging_until_the_rollout_ends_and_logs_it_once(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = app_with(db, clock, chat)
    now = clock.now()
    async with db.begin() as conn:  # as a running deploy writes it: ends at the latest at +1h
        await conn.execute(
            maintenance_windows.insert().values(
                kind="deploy",
                name="",
                service="orders",
                environment="prod",
                reason="deploy",
                created_by="alice",
                version="v1.4.2",
                starts_at=now,
                ends_at=now + timedelta(hours=1),
                created_at=now,
            )
        )
    number = await fire(app, severity="warning")
    assert field(chat, "fake:ops", "Maintenance") == (
        "during deploy of v1.4.2 by alice, until 04:00 UTC"
    )
    for _ in range(5):  # held, looking again every minute, logged once
        await later(app, clock, minutes=1)
    assert paged(await page_rows(app)) == []
    async with db.begin() as conn:  # the rollout ended: its window ends after a grace
        await conn.execute(
            maintenance_windows.update().values(ends_at=clock.now() + timedelta(minutes=2))
        )
    await later(app, clock, minutes=2)
    await later(app, clock, minutes=1)
    assert paged(await page_rows(app)) == [(0, "alice", "chat")]
    async with db.connect() as conn:
        held = await conn.execute(
            select(func.count()).where(escalation_log.c.kind == "maintenance")
        )
        assert held.scalar_one() == 1
    why = (await say(app, "U-ALICE", f"/incident why {number}")).text
    assert "deploy window #1, until the rollout ends (at the latest 04:00 UTC)" in why


# -- recurring windows ---------------------------------------------------------------------------


RECURRING = {
    "windows": [
        {
            "name": "weekly-db",
            "service": "orders",
            "environment": "prod",
            "time_zone": "America/New_York",
            "days": ["sun"],
            "start": "01:00",
            "end": "04:00",
            "reason": "weekly database maintenance",
        }
    ]
}


async def test_a_recurring_occurrence_is_written_once_by_two_passes_and_marks_cards(
    db: Database, chat: RecordingPlatform
) -> None:
    # Saturday 2026-03-07 12:00 UTC: Sunday's occurrence is the night New York springs forward
    clock = FakeClock(datetime(2026, 3, 7, 12, tzinfo=UTC))
    app = app_with(db, clock, chat, maintenance=RECURRING)
    replicas = [RecurringWindows(app.services.settings, db) for _ in range(3)]
    written = await asyncio.gather(*(r.write(clock.now()) for r in replicas))
    assert sorted(written) == [0, 0, 1]  # three replicas at once: the occurrence is written once
    await app.engine.tick()  # and the engine's own pass adds nothing
    (row,) = await windows(db)
    assert (row.kind, row.name, row.created_by) == ("recurring", "weekly-db", "configuration")
    assert row.starts_at == datetime(2026, 3, 8, 6, tzinfo=UTC)  # 01:00 EST
    assert row.ends_at == datetime(2026, 3, 8, 8, tzinfo=UTC)  # 04:00 EDT: two real hours

    clock.set(datetime(2026, 3, 8, 7, tzinfo=UTC))
    number = await fire(app, severity="warning")
    assert paged(await page_rows(app)) == []
    mark = field(chat, "fake:ops", "Maintenance")
    assert mark == "weekly database maintenance, until 08:00 UTC (by configuration)"
    await later(app, clock, hours=1)
    assert paged(await page_rows(app)) == [(0, "alice", "chat")]
    assert await mark_of(db, number) == row.id


async def test_a_window_removed_from_the_configuration_loses_its_occurrences_to_come(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    clock.set(datetime(2026, 3, 7, 12, tzinfo=UTC))  # a Saturday: Sunday's is within 2 days
    app = app_with(db, clock, chat, maintenance=RECURRING)
    await app.engine.tick()
    assert len(await windows(db)) == 1
    bare = app_with(db, clock, chat)
    assert await RecurringWindows(bare.services.settings, db).write(clock.now()) == 1
    assert await windows(db) == []


# -- retention -----------------------------------------------------------------------------------


async def test_windows_that_ended_long_ago_are_pruned(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = app_with(db, clock, chat, retention={"maintenance_windows": "30d"})
    assert (await say(app, "U-ALICE", "/maint start orders prod 1h")).ok
    assert (await say(app, "U-ALICE", "/maint start orders prod 3h")).ok
    await say(app, "U-ALICE", "/maint end 2")
    clock.advance(timedelta(days=30, minutes=30))
    report = await prune(db, app.services.settings, clock.now())
    assert report.rows.get("maintenance_windows") == 1  # #2, ended at once: 30 days ago
    assert [w.id for w in await windows(db)] == [1]


# -- the card's words ----------------------------------------------------------------------------


def test_the_mark_reads_each_kind_of_window_in_the_readers_words_and_zone() -> None:
    from bot.maintenance.mark import mark
    from bot.maintenance.windows import Window

    now = datetime(2026, 1, 5, 3, tzinfo=UTC)
    deploy = Window(7, "deploy", "", "orders", "prod", "deploy", "alice", "v1.4.2", now, None)
    assert mark(deploy, now, "en", "UTC") == "during deploy of v1.4.2 by alice, until it ends"
    capped = replace(deploy, ends_at=now + timedelta(minutes=40), rolling_out=True)
    assert mark(capped, now, "en", "UTC") == (
        "during deploy of v1.4.2 by alice, while it rolls out (by 03:40 UTC at the latest)"
    )
    assert mark(capped, now, "zh", "Asia/Shanghai") == (
        "alice 发布 v1.4.2 期间，发布进行中，最晚至 11:40（北京时间）"
    )
    later_end = timedelta(minutes=5)
    rollback = Window(
        8, "deploy", "", "orders", "prod", "rollback", "alice", "v1.4.1", now, now + later_end
    )
    assert mark(rollback, now, "en", "UTC") == "during rollback to v1.4.1 by alice, until 03:05 UTC"
    assert (
        mark(rollback, now, "zh", "Asia/Shanghai")
        == "alice 回滚至 v1.4.1 期间，至 11:05（北京时间）"
    )
    manual = Window(9, "manual", "", "*", "prod", "", "bob", "", now, now + later_end)
    assert mark(manual, now, "en", "UTC") == "/maint by bob: no reason given, until 03:05 UTC"
    weekly = Window(
        10, "recurring", "weekly-db", "orders", "prod", "", "configuration", "", now, now
    )
    assert mark(weekly, now, "zh", "UTC") == "weekly-db，已于 03:00（世界标准时间） 结束（按配置）"
