"""The engine's heartbeat pass: a missing heartbeat opens one incident (even with replicas
racing), beats coming back resolve it, and nothing is lost to a replica stopping half-way."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.heartbeats.store import SOURCE, fingerprint, record, rows
from bot.model import Tier
from bot.store.db import Database
from bot.store.tables import alerts, heartbeats, incidents
from tests.support import RecordingPlatform, make_settings, migrated, postgres_database
from tests.unit.test_heartbeats import heartbeat_config


def wired(db: Database, clock: FakeClock, chat: RecordingPlatform, **config: Any) -> Tocsin:
    settings = make_settings(heartbeats=config.pop("heartbeats", heartbeat_config()), **config)
    return bootstrap(settings, clock=clock, platforms={"fake": chat}, database=db)


async def blind(db: Database, name: str = "am-prod") -> list[Any]:
    """The incidents a heartbeat's alert opened, oldest first."""
    async with db.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(incidents.c.id, incidents.c.status, incidents.c.tier, alerts.c.status)
                    .join(alerts, alerts.c.incident_id == incidents.c.id)
                    .where(alerts.c.source == SOURCE, alerts.c.fingerprint == fingerprint(name))
                    .order_by(incidents.c.id)
                )
            ).all()
        )


async def count(db: Database, table: Any) -> int:
    async with db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_missing_watchdog_opens_one_incident_and_beats_resolve_it(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wired(db, clock, chat)
    await app.engine.tick()
    assert {r.state for r in (await state(db)).values()} == {"waiting"}
    await record(db, ["am-prod"], "am", clock.now())
    clock.advance(timedelta(minutes=2, seconds=59))
    await app.engine.tick()
    assert await blind(db) == []

    clock.advance(timedelta(seconds=1))  # interval + grace without a beat
    for _ in range(3):
        await app.engine.tick()
    opened = await blind(db)
    assert [tuple(r)[1:] for r in opened] == [("triggered", Tier.P0.value, "firing")]
    row = (await state(db))["am-prod"]
    assert row.state == "missing" and row.missing_since == clock.now()
    cards = chat.ops("post", "fake:ops")
    blind_cards = [s for s in cards if "Monitoring is blind: no Watchdog from am" in str(s.card)]
    assert len(blind_cards) == 1, [s.card for s in cards]
    assert app.services.metrics.heartbeats_missing._value.get() == 1

    clock.advance(timedelta(minutes=10))
    await app.engine.tick()
    assert len(await blind(db)) == 1  # still one incident while it stays missing

    await record(db, ["am-prod"], "am", clock.now())  # Alertmanager is back
    await app.engine.tick()
    (back,) = await blind(db)
    assert (back.status, back[3]) == ("resolved", "resolved")
    assert (await state(db))["am-prod"].state == "ok"
    assert app.services.metrics.heartbeats_missing._value.get() == 0
    seen = app.services.metrics.heartbeat_last_seen.labels("am-prod")._value.get()
    assert seen == clock.now().timestamp()

    clock.advance(timedelta(minutes=4))  # gone again: a new occurrence (within incidents'
    await app.engine.tick()  # reopen_window, so the same incident reopens)
    assert [r.status for r in await blind(db)] == ["triggered"]


async def test_a_replica_that_stops_between_marking_and_the_intake_loses_nothing(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wired(db, clock, chat)
    await app.engine.tick()
    since = clock.advance(timedelta(minutes=1))  # before its deadline: only the row says so
    async with db.begin() as conn:  # marked missing, then the replica died before the intake
        await conn.execute(
            update(heartbeats)
            .where(heartbeats.c.name == "nightly-backup")
            .values(state="missing", missing_since=since)
        )
    await app.engine.tick()
    (opened,) = await blind(db, "nightly-backup")
    assert opened.status == "triggered" and opened.tier == Tier.P2.value  # severity: warning
    async with db.connect() as conn:
        summary = (
            await conn.execute(
                select(alerts.c.summary).where(
                    alerts.c.fingerprint == fingerprint("nightly-backup")
                )
            )
        ).scalar_one()
    assert summary == "No heartbeat from nightly-backup for 25 h"


async def test_an_incident_resolved_by_hand_is_not_reopened_while_still_missing(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wired(db, clock, chat)
    await app.engine.tick()
    clock.advance(timedelta(minutes=3))
    await app.engine.tick()
    (opened,) = await blind(db)
    async with db.begin() as conn:
        await conn.execute(
            update(incidents).where(incidents.c.id == opened.id).values(status="resolved")
        )
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        await app.engine.tick()
    assert [r.status for r in await blind(db)] == ["resolved"]


async def test_heartbeats_taken_out_of_the_configuration_are_resolved_and_dropped(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    before = wired(db, clock, chat)
    await before.engine.tick()
    clock.advance(timedelta(minutes=3))
    await before.engine.tick()
    assert [r.status for r in await blind(db)] == ["triggered"]
    after = wired(db, clock, chat, heartbeats={})  # the next start, without heartbeats
    await after.engine.tick()
    assert await count(db, heartbeats) == 0
    assert [r.status for r in await blind(db)] == ["resolved"]


@pytest.mark.postgres
async def test_two_replicas_racing_open_one_incident_and_resolve_it_once() -> None:
    async with postgres_database() as url, migrated(url) as db:
        clock, chat = FakeClock(), RecordingPlatform()
        apps = [wired(Database(url, pool_size=5), clock, chat) for _ in range(3)]
        try:
            await asyncio.gather(*(app.engine.tick() for app in apps))
            assert await count(db, heartbeats) == 2
            clock.advance(timedelta(minutes=3))
            for _ in range(3):
                await asyncio.gather(*(app.engine.tick() for app in apps))
            assert [r.status for r in await blind(db)] == ["triggered"]
            posts = [s for s in chat.ops("post") if "Monitoring is blind" in str(s.card)]
            assert len(posts) == 1
            await record(db, ["am-prod"], "am", clock.advance(timedelta(seconds=20)))
            for _ in range(3):
                await asyncio.gather(*(app.engine.tick() for app in apps))
            assert [r.status for r in await blind(db)] == ["resolved"]
            assert await count(db, incidents) == 1
        finally:
            for app in apps:
                await app.services.db.dispose()


async def state(db: Database) -> dict[str, Any]:
    async with db.connect() as conn:
        return await rows(conn)
