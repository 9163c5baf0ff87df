"""A Slack user group that follows the rotation, through the real slack_sdk against the fake
Slack: hand-offs and overrides update it, a refusal shows on /readyz and is retried with
back-off until it clears, someone without a Slack identity is reported, and two engines on one
PostgreSQL make each update once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fake_slack import FakeSlackApi
from slack_support import ALICE, BOB, CAROL, CHANNEL, config

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.settings import parse_settings
from bot.store.db import Database
from tests.support import migrated, postgres_database

GROUP = "S0ONCALL"
UPDATE = "usergroups.users.update"


def group_config(api: FakeSlackApi, *, group: str = GROUP, people: list[str] | None = None) -> Any:
    raw = config(api, mode="http")
    raw["users"].append({"id": "dave", "name": "Dave", "roles": ["viewer"]})  # no Slack id
    raw["schedules"] = {
        "primary": {
            "time_zone": "UTC",
            "rotations": [
                {
                    "name": "daily",
                    "participants": people or ["alice", "bob"],
                    "shift": "daily",
                    "start": "2026-01-05T00:00",
                }
            ],
            "announce": [f"slack:{CHANNEL}"],
            "chat_groups": {"slack": group},
        }
    }
    return raw


def make(db: Database, clock: FakeClock, api: FakeSlackApi, **kwargs: Any) -> Tocsin:
    tocsin = bootstrap(
        parse_settings(group_config(api, **kwargs), env={}), clock=clock, database=db
    )
    return tocsin


async def readyz(tocsin: Tocsin) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=tocsin.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/readyz")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def texts(api: FakeSlackApi) -> list[str]:
    return [m.text for m in api.in_channel(CHANNEL)]


async def later(tocsin: Tocsin, clock: FakeClock, **delta: float) -> None:
    clock.advance(timedelta(**delta))
    await tocsin.engine.tick()


async def test_the_user_group_follows_hand_offs_and_overrides(
    db: Database, clock: FakeClock, slack_api: FakeSlackApi
) -> None:
    tocsin = make(db, clock, slack_api)
    await tocsin.engine.tick()
    assert slack_api.usergroups[GROUP] == [ALICE]  # 03:00 on 2026-01-05: Alice's day
    (call,) = slack_api.calls_to(UPDATE)
    assert call.token == slack_api.bot_token and call.params == {"usergroup": GROUP, "users": ALICE}
    await later(tocsin, clock, hours=1)
    assert len(slack_api.calls_to(UPDATE)) == 1, "nothing changed, nothing sent"

    await later(tocsin, clock, hours=20)  # 2026-01-06 00:00: Bob takes over
    assert slack_api.usergroups[GROUP] == [BOB]
    assert len(slack_api.calls_to(UPDATE)) == 2

    now = clock.now()
    async with tocsin.services.db.begin() as conn:
        await tocsin.services.oncall.override(
            conn, "primary", "carol", now, now + timedelta(hours=2), by="bob", reason="", now=now
        )
    await tocsin.engine.tick()
    assert slack_api.usergroups[GROUP] == [CAROL]
    await later(tocsin, clock, hours=2)
    assert slack_api.usergroups[GROUP] == [BOB]
    assert len(slack_api.calls_to(UPDATE)) == 4
    assert (await readyz(tocsin))["status"] == "ready"


async def test_a_refusal_shows_on_readyz_is_retried_with_backoff_and_clears(
    db: Database, clock: FakeClock, slack_api: FakeSlackApi
) -> None:
    tocsin = make(db, clock, slack_api)
    slack_api.fail(UPDATE, error="permission_denied", times=2)
    await tocsin.engine.tick()
    ready = await readyz(tocsin)
    assert ready["status"] == "degraded"
    assert ready["chat_groups"] == {
        f"primary slack:{GROUP}": f"failed: slack {UPDATE}: permission_denied "
        "since 2026-01-05T03:00:00Z"
    }
    (warning,) = [t for t in texts(slack_api) if "could not be updated" in t]
    assert f"slack:{GROUP}" in warning and "permission_denied" in warning

    await later(tocsin, clock, seconds=29)
    assert len(slack_api.calls_to(UPDATE)) == 1, "the first retry waits 30 s"
    await later(tocsin, clock, seconds=1)
    assert len(slack_api.calls_to(UPDATE)) == 2  # refused again: now a minute
    await later(tocsin, clock, seconds=59)
    assert len(slack_api.calls_to(UPDATE)) == 2
    assert (
        "since 2026-01-05T03:00:00Z"
        in (await readyz(tocsin))["chat_groups"][f"primary slack:{GROUP}"]
    ), "the failure keeps the time it began"
    await later(tocsin, clock, seconds=1)
    assert slack_api.usergroups[GROUP] == [ALICE]
    ready = await readyz(tocsin)
    assert ready["status"] == "ready" and "chat_groups" not in ready
    assert [t for t in texts(slack_api) if "follows the rotation again" in t]
    assert len([t for t in texts(slack_api) if "could not be updated" in t]) == 1, "said once"


async def test_rate_limits_are_waited_out_and_an_unknown_group_is_named(
    db: Database, clock: FakeClock, slack_api: FakeSlackApi
) -> None:
    tocsin = make(db, clock, slack_api, group="S0NOSUCH")
    await tocsin.engine.tick()
    problem = (await readyz(tocsin))["chat_groups"]["primary slack:S0NOSUCH"]
    assert problem.startswith(f"failed: slack {UPDATE}: no_such_subteam")

    slack_api.usergroups["S0NOSUCH"] = []  # an administrator creates it
    slack_api.fail(UPDATE, status=429, error="ratelimited", retry_after=120)
    await later(tocsin, clock, seconds=30)
    assert len(slack_api.calls_to(UPDATE)) == 2
    await later(tocsin, clock, seconds=119)
    assert len(slack_api.calls_to(UPDATE)) == 2, "Retry-After is longer than the back-off"
    await later(tocsin, clock, seconds=1)
    assert slack_api.usergroups["S0NOSUCH"] == [ALICE]
    assert (await readyz(tocsin))["status"] == "ready"


async def test_someone_on_call_without_a_slack_identity_is_reported(
    db: Database, clock: FakeClock, slack_api: FakeSlackApi
) -> None:
    tocsin = make(db, clock, slack_api, people=["dave", "bob"])
    await tocsin.engine.tick()
    assert slack_api.calls_to(UPDATE) == [], "Slack refuses an empty user group: left alone"
    ready = await readyz(tocsin)
    assert ready["status"] == "degraded"
    assert ready["chat_groups"][f"primary slack:{GROUP}"] == (
        "missing: no slack identity for dave since 2026-01-05T03:00:00Z"
    )
    assert [t for t in texts(slack_api) if "dave" in t and "incomplete" in t]
    await later(tocsin, clock, hours=21)  # Bob's day
    assert slack_api.usergroups[GROUP] == [BOB]
    assert (await readyz(tocsin))["status"] == "ready"


@pytest.mark.postgres
async def test_two_engines_on_one_postgresql_update_the_group_once_per_change(
    slack_api: FakeSlackApi,
) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 3, 0, tzinfo=UTC))
    async with (
        postgres_database() as url,
        migrated(url) as first_db,
        migrated(url) as second_db,
    ):
        one, two = make(first_db, clock, slack_api), make(second_db, clock, slack_api)
        try:
            for day in range(6):
                await asyncio.gather(one.engine.tick(), two.engine.tick())
                await asyncio.gather(one.engine.tick(), two.engine.tick())
                assert slack_api.usergroups[GROUP] == [ALICE if day % 2 == 0 else BOB]
                clock.advance(timedelta(days=1))
        finally:
            for app in (one, two):
                await app.engine.stop()
                for adapter in app.adapters:
                    await adapter.aclose()
    assert len(slack_api.calls_to(UPDATE)) == 6
