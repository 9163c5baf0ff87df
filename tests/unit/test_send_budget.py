"""Send budgets shared through the database: a group robot's 20 in any rolling minute, Slack's
pace with its burst, and a Retry-After seen by one replica holding back all of them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.model import Card, Destination
from bot.outbox.budget import WINDOW_MARGIN, Budgets, Limit, State, grant
from bot.ports import ChatCapabilities, PostedRef
from bot.store.db import Database
from bot.store.tables import outbox
from tests.support import (
    RecordingPlatform,
    make_settings,
    migrated,
    postgres_database,
    retry_later,
)

T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
ROBOT = Limit(rate=1.0, burst=21, window=20, per=60.0)
"""A pace that alone would allow 80 in a minute: the window is what holds it to 20."""
MINUTE = timedelta(seconds=60)
KEPT = MINUTE + timedelta(seconds=WINDOW_MARGIN)
"""The window Tocsin keeps: the platform's minute and a margin for the time a send travels."""


def most_in_any_window(times: list[datetime], length: timedelta = MINUTE) -> int:
    """The most sends in any closed window `[t - length, t]`."""
    ordered = sorted(times)
    return max((sum(1 for s in ordered if t - length <= s <= t) for t in ordered), default=0)


async def test_a_robot_gets_exactly_twenty_in_any_rolling_minute(db: Database) -> None:
    budgets = Budgets(db, {"wecom-robot": ROBOT})
    dest = "wecom-robot:ops"
    first = await budgets.take(dest, T0, 25)
    assert first.count == 20, "the whole minute's budget at once"
    assert first.retry_at == T0 + KEPT + timedelta(microseconds=1)
    assert (await budgets.take(dest, T0 + MINUTE, 1)).count == 0, "60 s later is still inside"
    assert (await budgets.take(dest, T0 + KEPT, 1)).count == 0, "so is the margin"
    later = T0 + KEPT + timedelta(microseconds=1)
    assert (await budgets.take(dest, later, 25)).count == 20

    # a steady stream, one every 0.7 s for five minutes: as many as fit, never one too many
    sent: list[datetime] = []
    start = T0 + timedelta(minutes=10)
    for n in range(430):
        now = start + timedelta(seconds=0.7 * n)
        if (await budgets.take(dest, now, 1)).count:
            sent.append(now)
    assert most_in_any_window(sent, KEPT) == 20
    assert len(sent) == 100  # 20 in each 61 s (the last ones just in time): the budget is used


async def test_slack_goes_one_a_second_after_its_burst(db: Database) -> None:
    budgets = Budgets(db, {"slack": Limit(rate=1.0, burst=3)})
    dest = "slack:C042"
    first = await budgets.take(dest, T0, 5)
    # the burst, one short of the platform's 3: the spare absorbs the time a send travels
    assert (first.count, first.retry_at) == (2, T0 + timedelta(seconds=1))
    assert (await budgets.take(dest, T0 + timedelta(seconds=0.5), 1)).count == 0
    assert (await budgets.take(dest, T0 + timedelta(seconds=1), 2)).count == 1
    assert (await budgets.take(dest, T0 + timedelta(seconds=60), 10)).count == 2, "burst caps"
    assert (await budgets.take("slack:C043", T0, 3)).count == 2, "each channel has its own"


async def test_retry_after_seen_by_one_replica_holds_back_the_others(db_url: str) -> None:
    async with migrated(db_url) as db, migrated(db_url) as other:
        limits = {"slack": Limit(rate=1.0, burst=3)}
        one, two = Budgets(db, limits), Budgets(other, limits)
        dest = "slack:C042"
        assert (await one.take(dest, T0, 1)).count == 1
        until = T0 + timedelta(seconds=30)
        await one.block(dest, T0, until)
        await one.block(dest, T0, T0 + timedelta(seconds=5))  # a shorter one does not shorten it
        refused = await two.take(dest, T0 + timedelta(seconds=29), 1)
        assert (refused.count, refused.retry_at) == (0, until)
        async with other.connect() as conn:
            assert await two.blocked_until(conn, dest) == until
        assert (await two.take(dest, until, 3)).count == 2


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 90_000_000), st.integers(1, 30)),  # (µs to wait, how many)
        max_size=60,
    ),
    st.integers(1, 20),
    st.floats(0.01, 5.0),
)
def test_no_minute_ever_holds_more_than_the_window(
    steps: list[tuple[int, int]], burst: int, rate: float
) -> None:
    limit = Limit(rate=rate, burst=burst, window=20)
    now = 1_700_000_000_000_000
    state = State(float(burst), now, None, [])
    sent: list[int] = []
    for wait, want in steps:
        now += wait
        count, state, next_at = grant(limit, state, now, want)
        sent.extend([now] * count)
        assert count <= want and (next_at is None) == (count == want)
        assert next_at is None or next_at > now
    for t in sent:
        assert sum(1 for s in sent if t - 60_000_000 <= s <= t) <= 20


class Robot:
    """One replica's view of a shared fake group robot: every send is logged with the time it
    went and the replica that sent it; it can be told to answer one send with a 429."""

    name = "wecom-robot"
    capabilities = ChatCapabilities(
        buttons=False, update_in_place=False, direct_messages=False, rate_per_second=1, burst=20
    )

    def __init__(self, replica: int, clock: FakeClock, log: list[tuple[datetime, str, int]]):
        self.replica, self.clock, self.log = replica, clock, log
        self.fail_next: list[Exception] = []

    async def post_card(self, dest: Destination, card: Card, *, lang: str) -> PostedRef:
        raise AssertionError("only texts in this test")

    async def update_card(
        self, dest: Destination, ref: PostedRef, card: Card, *, lang: str
    ) -> PostedRef:
        raise AssertionError("only texts in this test")

    async def post_text(self, dest: Destination, text: str, *, reply_to: PostedRef | None) -> None:
        await asyncio.sleep(0)  # let the other replicas run in between
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.log.append((self.clock.now(), text, self.replica))


def robot_replica(url: str, clock: FakeClock, robot: Robot) -> Tocsin:
    config: dict[str, Any] = {"outbox": {"rate_limits": {"wecom-robot": {"rate": 1, "burst": 20}}}}
    app = bootstrap(
        make_settings(**config),
        clock=clock,
        platforms={"wecom-robot": robot, "fake": RecordingPlatform()},
        database=Database(url, pool_size=5),
    )
    # small claims, so that every replica holds some of the robot's queue at once
    app.worker.settings = dataclasses.replace(app.worker.settings, batch=4)
    return app


MESSAGES = 70
RETRY_AFTER = 90


@pytest.mark.postgres
async def test_three_replicas_share_one_robots_twenty_a_minute() -> None:
    async with postgres_database() as url, migrated(url) as db:
        clock = FakeClock(T0)
        log: list[tuple[datetime, str, int]] = []
        robots = [Robot(n, clock, log) for n in range(3)]
        apps = [robot_replica(url, clock, robot) for robot in robots]
        dest = "wecom-robot:ops"
        async with db.begin() as conn:
            for n in range(MESSAGES):
                params = {"id": n, "user": "alice"}
                await apps[0].services.outbox.text(
                    conn, [dest], "incident.ack_expired", params, now=T0
                )

        async def tick(*replicas: Tocsin) -> None:
            await asyncio.gather(*(app.worker.run_once() for app in replicas))
            clock.advance(timedelta(seconds=5))

        for _ in range(18):  # a minute and a half, all three replicas racing
            await tick(*apps)
        assert 20 < len(log) < MESSAGES

        # the robot answers replica 0 with a 429; nobody sends until its Retry-After ends
        robots[0].fail_next = [retry_later(RETRY_AFTER)]
        while robots[0].fail_next:
            await tick(apps[0])
        blocked_at = clock.now() - timedelta(seconds=5)
        before = len(log)
        for _ in range(200):
            if len(log) == MESSAGES:
                break
            await tick(*apps)

        times = [when for when, _, _ in log]
        assert most_in_any_window(times) <= 20
        texts = Counter(text for _, text, _ in log)
        assert len(texts) == MESSAGES and set(texts.values()) == {1}, "none lost, none twice"
        assert not [t for t in times if blocked_at <= t < blocked_at + timedelta(seconds=90)]
        assert {replica for _, _, replica in log[before:]} - {0}, "the others sent afterwards"
        async with db.connect() as conn:
            statuses = {r.status for r in await conn.execute(select(outbox))}
        assert statuses == {"sent"}
        for app in apps:
            await app.services.db.dispose()
