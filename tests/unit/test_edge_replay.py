"""The one freshness-and-once rule for signed requests: exact at the window's edge, both ways,
in seconds and in milliseconds; claimed once across replicas, released for a retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.edge.replay import SignedOnce, Stamp, Window
from bot.clock import FakeClock
from bot.replay import MemoryReplays, ReplayGuard
from bot.store.db import Database

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
SECONDS = int(NOW.timestamp())
MILLIS = SECONDS * 1000
FIVE_MINUTES = Window(timedelta(minutes=5))
ONE_HOUR_MS = Window(timedelta(hours=1), per_second=1000)


@pytest.mark.parametrize("offset", [-300, 300, 0, -1, 1])
def test_a_stamp_up_to_the_window_away_either_way_is_fresh(offset: int) -> None:
    assert FIVE_MINUTES.judge(str(SECONDS + offset), NOW) is Stamp.FRESH


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 10**9])
def test_one_second_past_the_edge_is_stale_old_or_future(offset: int) -> None:
    assert FIVE_MINUTES.judge(str(SECONDS + offset), NOW) is Stamp.STALE


def test_the_edge_is_exact_to_the_microsecond() -> None:
    stamp = str(SECONDS - 300)
    assert FIVE_MINUTES.fresh(stamp, NOW)
    assert not FIVE_MINUTES.fresh(stamp, NOW + timedelta(microseconds=1))
    assert FIVE_MINUTES.fresh(str(SECONDS + 300), NOW)
    assert not FIVE_MINUTES.fresh(str(SECONDS + 300), NOW - timedelta(microseconds=1))


def test_milliseconds_are_judged_in_milliseconds() -> None:
    hour = 3_600_000
    assert ONE_HOUR_MS.fresh(str(MILLIS - hour), NOW)
    assert ONE_HOUR_MS.fresh(str(MILLIS + hour), NOW)
    assert not ONE_HOUR_MS.fresh(str(MILLIS - hour - 1), NOW)
    assert not ONE_HOUR_MS.fresh(str(MILLIS + hour + 1), NOW)
    assert not ONE_HOUR_MS.fresh(str(SECONDS), NOW), "seconds where milliseconds are due"


@pytest.mark.parametrize(
    "raw", ["", " ", "-1", "+1", "1.5", "1e9", "soon", "１７６７", "1 2", "1" * 17, "0x10"]
)
def test_anything_but_ascii_digits_is_malformed(raw: str) -> None:
    assert FIVE_MINUTES.judge(raw, NOW) is Stamp.MALFORMED


def test_surrounding_spaces_are_ignored() -> None:
    assert FIVE_MINUTES.fresh(f" {SECONDS}\t", NOW)


def test_a_unit_that_does_not_divide_a_second_into_microseconds_is_refused() -> None:
    with pytest.raises(ValueError, match="per_second"):
        Window(timedelta(minutes=5), per_second=7)


@given(st.integers(min_value=-10_000, max_value=10_000))
def test_fresh_is_exactly_the_distance_within_the_span(offset: int) -> None:
    assert FIVE_MINUTES.fresh(str(SECONDS + offset), NOW) is (abs(offset) <= 300)


async def test_a_fresh_request_is_claimed_once_until_released() -> None:
    clock = FakeClock(NOW)
    once = SignedOnce(FIVE_MINUTES, clock, MemoryReplays())
    assert once.fresh(str(SECONDS))
    assert [await once.claim("sig"), await once.claim("sig")] == [True, False]
    await once.release("sig")
    assert await once.claim("sig")
    clock.advance(timedelta(seconds=301))
    assert not once.fresh(str(SECONDS))


async def test_claims_are_shared_by_replicas_on_one_database(db: Database) -> None:
    clock = FakeClock(NOW)
    one = SignedOnce(FIVE_MINUTES, clock, ReplayGuard(db, clock, "slack:replay"))
    two = SignedOnce(FIVE_MINUTES, clock, ReplayGuard(db, clock, "slack:replay"))
    assert [await one.claim("v0=abc"), await two.claim("v0=abc")] == [True, False]
    await two.release("v0=abc")
    assert await one.claim("v0=abc")
