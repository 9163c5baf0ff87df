"""Recurring maintenance windows: occurrences from local wall-clock times, across DST changes
(explicit examples, then Hypothesis against a pointwise definition in several zones)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.maintenance.recurring import instant, occurrences
from bot.settings.oncall import WEEKDAYS
from bot.settings.watch import RecurringWindow

ZONES = ("America/New_York", "Europe/London", "Australia/Sydney", "Asia/Shanghai")
moderate = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def window(zone: str, start: time, end: time, days: tuple[str, ...] = WEEKDAYS) -> RecurringWindow:
    return RecurringWindow.model_validate(
        {"name": "w", "time_zone": zone, "start": start, "end": end, "days": days}
    )


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def spans(w: RecurringWindow, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return [(o.starts_at, o.ends_at) for o in occurrences(w, start, end)]


def test_a_window_keeps_its_local_hours_across_the_spring_change_in_new_york() -> None:
    w = window("America/New_York", time(1, 0), time(4, 0))
    found = spans(w, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12))
    assert found == [
        (utc(2026, 3, 8, 6), utc(2026, 3, 8, 8)),  # 01:00 EST to 04:00 EDT: two real hours
        (utc(2026, 3, 9, 5), utc(2026, 3, 9, 8)),  # 01:00 EDT to 04:00 EDT
    ]


def test_a_start_in_the_spring_gap_moves_to_the_first_instant_after_it() -> None:
    w = window("America/New_York", time(2, 30), time(5, 0))
    (first,) = spans(w, utc(2026, 3, 8), utc(2026, 3, 8, 23))
    assert first == (utc(2026, 3, 8, 7), utc(2026, 3, 8, 9))  # 03:00 EDT (the gap's end)
    assert instant(datetime(2026, 3, 29, 1, 30), ZoneInfo("Europe/London")) == utc(2026, 3, 29, 1)


def test_an_ambiguous_start_takes_the_first_of_the_two_in_the_autumn() -> None:
    w = window("Europe/London", time(1, 30), time(3, 0))
    (first,) = spans(w, utc(2026, 10, 25), utc(2026, 10, 25, 12))
    # 01:30 is shown twice (BST, then GMT): the first one, 00:30 UTC; 03:00 GMT ends it
    assert first == (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3))


def test_an_end_at_or_before_the_start_ends_the_next_day_in_sydney() -> None:
    # Sydney leaves daylight time on 2026-04-05 (03:00 AEDT becomes 02:00 AEST)
    w = window("Australia/Sydney", time(22, 0), time(6, 0), days=("sat",))
    (night,) = spans(w, utc(2026, 4, 3), utc(2026, 4, 6))
    assert night == (utc(2026, 4, 4, 11), utc(2026, 4, 4, 20))  # 22:00 AEDT to 06:00 AEST
    whole = window("Asia/Shanghai", time(0, 0), time(0, 0), days=("mon",))
    assert spans(whole, utc(2026, 1, 4), utc(2026, 1, 6)) == [
        (utc(2026, 1, 4, 16), utc(2026, 1, 5, 16))  # Monday in Shanghai, 24 hours
    ]


def test_only_listed_days_and_occurrences_overlapping_the_range() -> None:
    w = window("Asia/Shanghai", time(2, 0), time(4, 0), days=("sun",))
    found = spans(w, utc(2026, 1, 1), utc(2026, 1, 15))
    assert [s.astimezone(ZoneInfo("Asia/Shanghai")).date() for s, _ in found] == [
        date(2026, 1, 4),
        date(2026, 1, 11),
    ]
    # one already running at the range's start is included, whole
    assert spans(w, utc(2026, 1, 3, 19), utc(2026, 1, 3, 20)) == [
        (utc(2026, 1, 3, 18), utc(2026, 1, 3, 20))
    ]


def expected_start(w: RecurringWindow, day: date) -> datetime:
    """The pointwise definition: the first instant whose wall time is at or past the start."""
    zone = ZoneInfo(w.time_zone)
    wall = datetime.combine(day, w.start)
    at = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC) - timedelta(hours=3)
    while at.astimezone(zone).replace(tzinfo=None) < wall:
        at += timedelta(minutes=15)
    return at


walls = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
days = st.dates(date(2025, 1, 1), date(2027, 12, 31))


@moderate
@given(st.sampled_from(ZONES), walls, walls, days)
def test_each_occurrence_starts_at_the_first_instant_showing_its_wall_time(
    zone: str, start: time, end: time, day: date
) -> None:
    w = window(zone, start, end)
    lo = datetime.combine(day, time(0), tzinfo=UTC)
    for found in occurrences(w, lo, lo + timedelta(days=3)):
        local = found.starts_at.astimezone(ZoneInfo(zone))
        opened = local.date() if local.time() >= start else local.date() - timedelta(days=1)
        assert found.starts_at == expected_start(w, opened)
        assert found.starts_at < found.ends_at <= found.starts_at + timedelta(hours=25)
        assert found.starts_at.tzinfo is not None and found.starts_at.utcoffset() == timedelta(0)


@moderate
@given(st.sampled_from(ZONES), walls, walls, days, st.integers(1, 10))
def test_occurrences_are_in_order_never_overlap_and_cover_each_listed_day_once(
    zone: str, start: time, end: time, day: date, span: int
) -> None:
    w = window(zone, start, end)
    lo = datetime.combine(day, time(12), tzinfo=UTC)
    hi = lo + timedelta(days=span)
    found = list(occurrences(w, lo, hi))
    assert all(a.ends_at <= b.starts_at for a, b in pairwise(found))
    assert all(o.starts_at < hi and o.ends_at > lo for o in found)
    # every listed day has its occurrence: about one a day
    assert span - 1 <= len(found) <= span + 2
    # asking again over a sub-range finds the same occurrences (idempotent writes rely on it)
    middle = lo + timedelta(days=span / 2)
    again = list(occurrences(w, middle, hi))
    assert set(again) <= set(found)


@pytest.mark.parametrize("zone", ZONES)
def test_every_day_of_three_years_has_one_occurrence_at_its_local_time(zone: str) -> None:
    # brute force, as the schedules are tested: 02:30 to 03:30 daily, the hour DST moves
    w = window(zone, time(2, 30), time(3, 30))
    found = list(occurrences(w, utc(2025, 1, 1), utc(2028, 1, 1)))
    local = ZoneInfo(zone)
    opened = [o.starts_at.astimezone(local) for o in found]
    assert len({o.date() for o in opened}) == len(found)
    for moment in opened:
        assert moment.time() >= time(2, 30) and moment.time() <= time(3, 30)
