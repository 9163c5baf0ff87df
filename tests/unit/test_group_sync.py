"""The chat-group pass without a platform behind it: targets and back-off, the state a DingTalk
group's mentions follow, a lease left by a replica that died mid-call, a missing platform shown
on /readyz, and groups dropped from the settings forgotten."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.oncall.groups_state import backoff, target_of
from bot.store.db import Database
from bot.store.tables import group_sync
from tests.support import RecordingPlatform
from tests.unit.test_escalation import wire


def schedules(**groups: str) -> dict[str, Any]:
    return {
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
            "chat_groups": groups,
        }
    }


def app_with(db: Database, clock: FakeClock, chat: RecordingPlatform, **groups: str) -> Tocsin:
    users = [
        {
            "id": u,
            "name": u.title(),
            "roles": ["sre"],
            "identities": {"fake": f"U-{u.upper()}", "dingtalk": f"{u}-dt"},
        }
        for u in ("alice", "bob", "carol")
    ]
    return wire(db, clock, chat, MemoryNotifier("sms"), schedules=schedules(**groups), users=users)


async def rows(app: Tocsin) -> list[Any]:
    async with app.services.db.connect() as conn:
        found = await conn.execute(select(group_sync).order_by(group_sync.c.target))
        return list(found.all())


async def readyz(app: Tocsin) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        body: dict[str, Any] = (await http.get("/readyz")).json()
    return body


def test_targets_name_the_group_as_its_chat_is_addressed() -> None:
    assert target_of("slack", "S0123") == "slack:S0123"
    assert target_of("feishu", "oc_abc") == "feishu:oc_abc"
    assert target_of("dingtalk", "cidX==") == "dingtalk:cidX=="
    assert target_of("dingtalk", "dingtalk-robot:ops") == "dingtalk-robot:ops"
    assert target_of("wecom", "ops") == "wecom-robot:ops"
    assert target_of("wecom", "wecom-robot:ops") == "wecom-robot:ops"


def test_backoff_doubles_to_a_cap_and_waits_longer_when_asked() -> None:
    assert [backoff(n, None).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(40, None) == timedelta(minutes=30)
    assert backoff(1, 300.0) == timedelta(seconds=300)


async def test_a_dingtalk_group_records_who_to_mention_and_follows_hand_offs(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = app_with(db, clock, chat, dingtalk="cidOPS==")
    await app.engine.tick()
    (row,) = await rows(app)
    assert (row.target, row.wanted, row.applied, row.status) == (
        "dingtalk:cidOPS==",
        ["alice"],
        ["alice-dt"],
        "ok",
    )
    clock.advance(timedelta(days=1))
    await app.engine.tick()
    (row,) = await rows(app)
    assert (row.wanted, row.applied, row.status) == (["bob"], ["bob-dt"], "ok")


async def test_a_replica_that_died_mid_call_leaves_a_lease_that_runs_out(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = app_with(db, clock, chat, dingtalk="cidOPS==")
    await app.engine.tick()
    clock.advance(timedelta(days=1))
    lease = clock.now() + timedelta(minutes=2)
    async with db.begin() as conn:  # another replica claimed the row and was killed
        await conn.execute(
            update(group_sync).values(
                wanted=["bob"], status="pending", next_attempt_at=clock.now(), claimed_until=lease
            )
        )
    await app.engine.tick()
    assert (await rows(app))[0].applied == ["alice-dt"], "the lease is still someone's"
    clock.advance(timedelta(minutes=2))
    await app.engine.tick()
    (row,) = await rows(app)
    assert (row.applied, row.status, row.claimed_until) == (["bob-dt"], "ok", None)


async def test_a_group_on_a_platform_not_configured_shows_on_readyz_and_is_forgotten(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = app_with(db, clock, chat, slack="S0123")
    await app.engine.tick()
    ready = await readyz(app)
    assert ready["status"] == "degraded"
    assert ready["chat_groups"] == {
        "primary slack:S0123": "failed: no slack chat platform to set members through "
        "since 2026-01-05T03:00:00Z"
    }
    assert [s.text for s in chat.ops("text", "fake:ops") if "S0123" in s.text]

    again = app_with(db, clock, chat, dingtalk="cidOPS==")  # the settings no longer name it
    await again.engine.tick()
    assert [r.target for r in await rows(again)] == ["dingtalk:cidOPS=="]
    assert (await readyz(again))["status"] == "ready"
