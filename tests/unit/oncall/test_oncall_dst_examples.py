"""Hand-offs across daylight-saving changes, by example and by brute force over every quarter
hour around each change of 2026."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from oncall_strategies import ZONES, assert_tiles, holding, layer_person, transitions

from bot.oncall import layer_segments
from bot.settings.oncall import Restriction, Rotation


def z(when: str) -> datetime:
    return datetime.fromisoformat(when).astimezone(UTC)


def turns(rotation: Rotation, zone: str, start: str, end: str) -> list[tuple[str, float, str]]:
    """(local start, hours, person) of each segment, in the rotation's zone."""
    tz = ZoneInfo(rotation.time_zone or zone)
    return [
        (
            s.start.astimezone(tz).isoformat(timespec="minutes"),
            (s.end - s.start) / timedelta(hours=1),
            s.user or "-",
        )
        for s in layer_segments(rotation, zone, z(start), z(end))
    ]


def rotation(shift: str, start: datetime, *people: str, **extra: object) -> Rotation:
    return Rotation.model_validate(
        {"name": "r", "participants": people or ("a", "b", "c"), "shift": shift, "start": start}
        | extra
    )


NY = "America/New_York"


def test_new_york_daily_0230_hand_off_moves_forward_on_spring_forward_day() -> None:
    daily = rotation("daily", datetime(2026, 3, 1, 2, 30))
    assert turns(daily, NY, "2026-03-06T02:30-05:00", "2026-03-10T02:30-04:00") == [
        ("2026-03-06T02:30-05:00", 24, "c"),
        ("2026-03-07T02:30-05:00", 24, "a"),
        ("2026-03-08T03:30-04:00", 23, "b"),
        ("2026-03-09T02:30-04:00", 24, "c"),
    ]


def test_new_york_daily_0230_hand_off_on_fall_back_day_makes_a_25_hour_shift() -> None:
    daily = rotation("daily", datetime(2026, 10, 1, 2, 30))
    assert turns(daily, NY, "2026-10-31T02:30-04:00", "2026-11-02T02:30-05:00") == [
        ("2026-10-31T02:30-04:00", 25, "a"),
        ("2026-11-01T02:30-05:00", 24, "b"),
    ]


def test_an_ambiguous_hand_off_takes_the_first_occurrence() -> None:
    daily = rotation("daily", datetime(2026, 10, 1, 1, 30))
    assert turns(daily, NY, "2026-10-31T01:30-04:00", "2026-11-02T01:30-05:00") == [
        ("2026-10-31T01:30-04:00", 24, "a"),
        ("2026-11-01T01:30-04:00", 25, "b"),
    ]


def test_half_hour_turns_inside_the_spring_forward_gap_are_dropped() -> None:
    halves = rotation("30m", datetime(2026, 1, 1), "x", "y")
    assert turns(halves, NY, "2026-03-08T01:00-05:00", "2026-03-08T04:00-04:00") == [
        ("2026-03-08T01:00-05:00", 0.5, "x"),
        ("2026-03-08T01:30-05:00", 0.5, "y"),
        ("2026-03-08T03:00-04:00", 0.5, "x"),
        ("2026-03-08T03:30-04:00", 0.5, "y"),
    ]


def test_quarter_hour_turns_in_the_repeated_hour_run_on_first_occurrence_wall_time() -> None:
    quarters = rotation("15m", datetime(2026, 1, 1), "w", "x", "y", "z")
    assert turns(quarters, NY, "2026-11-01T01:30-04:00", "2026-11-01T02:30-05:00") == [
        ("2026-11-01T01:30-04:00", 0.25, "y"),
        ("2026-11-01T01:45-04:00", 1.25, "z"),
        ("2026-11-01T02:00-05:00", 0.25, "w"),
        ("2026-11-01T02:15-05:00", 0.25, "x"),
    ]


def test_berlin_twelve_hour_shifts_over_both_changes() -> None:
    halves = rotation("12h", datetime(2026, 1, 1, 8), "day", "night")
    berlin = "Europe/Berlin"
    assert turns(halves, berlin, "2026-10-24T08:00+02:00", "2026-10-25T20:00+01:00") == [
        ("2026-10-24T08:00+02:00", 12, "day"),
        ("2026-10-24T20:00+02:00", 13, "night"),
        ("2026-10-25T08:00+01:00", 12, "day"),
    ]
    assert turns(halves, berlin, "2026-03-28T08:00+01:00", "2026-03-29T20:00+02:00") == [
        ("2026-03-28T08:00+01:00", 12, "day"),
        ("2026-03-28T20:00+01:00", 11, "night"),
        ("2026-03-29T08:00+02:00", 12, "day"),
    ]


def test_sydney_weekly_monday_hand_offs_over_april_and_october() -> None:
    weekly = rotation("weekly", datetime(2026, 1, 5, 9), time_zone="Australia/Sydney")
    assert turns(weekly, "UTC", "2026-03-30T09:00+11:00", "2026-04-13T09:00+10:00") == [
        ("2026-03-30T09:00+11:00", 7 * 24 + 1, "a"),
        ("2026-04-06T09:00+10:00", 7 * 24, "b"),
    ]
    assert turns(weekly, "UTC", "2026-09-28T09:00+10:00", "2026-10-12T09:00+11:00") == [
        ("2026-09-28T09:00+10:00", 7 * 24 - 1, "c"),
        ("2026-10-05T09:00+11:00", 7 * 24, "a"),
    ]


def test_an_aware_start_is_read_as_wall_time_in_the_rotation_zone() -> None:
    daily = rotation("daily", datetime(2026, 1, 5, 1, tzinfo=UTC), "a", "b")
    assert turns(daily, "Asia/Shanghai", "2026-01-05T09:00+08:00", "2026-01-07T09:00+08:00") == [
        ("2026-01-05T09:00+08:00", 24, "a"),
        ("2026-01-06T09:00+08:00", 24, "b"),
    ]


def test_the_rotation_extends_back_before_its_start() -> None:
    daily = rotation("daily", datetime(2026, 3, 10, 9), time_zone=NY)
    assert turns(daily, "UTC", "2026-03-06T09:00-05:00", "2026-03-09T09:00-04:00") == [
        ("2026-03-06T09:00-05:00", 24, "c"),
        ("2026-03-07T09:00-05:00", 23, "a"),
        ("2026-03-08T09:00-04:00", 24, "b"),
    ]


def test_a_night_window_across_midnight_follows_the_wall_clock_over_a_change() -> None:
    nights = rotation(
        "weekly",
        datetime(2026, 1, 5),
        "owl",
        time_zone="Europe/Berlin",
        restrictions=[Restriction(start="22:00", end="06:00")],
    )
    assert turns(nights, "UTC", "2026-03-28T12:00+01:00", "2026-03-29T12:00+02:00") == [
        ("2026-03-28T12:00+01:00", 10, "-"),
        ("2026-03-28T22:00+01:00", 7, "owl"),
        ("2026-03-29T06:00+02:00", 6, "-"),
    ]


CHANGES = [(zone, t) for zone in ZONES for t in transitions(zone) if t.year == 2026]
CHANGES += [("Asia/Shanghai", z("2026-03-08T00:00Z")), ("UTC", z("2026-11-01T00:00Z"))]
SHIFTS = ["15m", "45m", "1h", "5h", "12h", "daily", "3d", "weekly"]


@pytest.mark.parametrize("shift", SHIFTS)
@pytest.mark.parametrize(("zone", "change"), CHANGES, ids=lambda v: str(v)[:16])
def test_brute_force_every_quarter_hour_around_each_change(
    zone: str, change: datetime, shift: str
) -> None:
    daily = rotation(shift, datetime(2025, 6, 2, 2, 30), "a", "b", "c", "d")
    start, end = change - timedelta(days=2), change + timedelta(days=2)
    segments = layer_segments(daily, zone, start, end)
    assert_tiles(segments, start, end)
    when = start
    while when < end:
        assert holding(segments, when).user == layer_person(daily, zone, when), when
        when += timedelta(minutes=15)
    if shift in ("daily", "3d", "weekly"):
        tz = ZoneInfo(zone)
        for seg in segments[1:]:
            local = seg.start.astimezone(tz)
            gap = local.utcoffset() != (seg.start - timedelta(hours=1)).astimezone(tz).utcoffset()
            assert (local.hour, local.minute) == ((3, 30) if gap else (2, 30))
