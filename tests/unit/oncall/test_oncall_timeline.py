"""The final schedule by example: follow-the-sun layers, overrides, and the questions asked of
it (who now, who next, gaps, someone's shifts)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.oncall import (
    Override,
    Segment,
    gaps,
    layer_segments,
    next_on_call,
    on_call,
    shifts_of,
    timeline,
)
from bot.settings.oncall import FixedOverride, Restriction, Rotation, Schedule


def z(when: str) -> datetime:
    return datetime.fromisoformat(when).astimezone(UTC)


def office(name: str, zone: str, *people: str) -> Rotation:
    return Rotation(
        name=name,
        participants=people,
        shift="weekly",
        start=datetime(2026, 1, 5, 9),
        time_zone=zone,
        restrictions=(
            Restriction(days=("mon", "tue", "wed", "thu", "fri"), start="09:00", end="17:00"),
        ),
    )


SUN = Schedule(
    rotations=(
        office("apac", "Asia/Shanghai", "li", "wang"),
        office("emea", "Europe/Berlin", "hans", "greta"),
        office("amer", "America/New_York", "joe", "amy"),
    )
)


@pytest.mark.parametrize(
    ("when", "who"),
    [
        ("2026-01-14T05:00Z", ("wang", "apac")),
        ("2026-01-14T08:30Z", ("greta", "emea")),
        ("2026-01-14T12:00Z", ("greta", "emea")),
        ("2026-01-14T13:30Z", ("greta", "emea")),
        ("2026-01-14T15:00Z", ("amy", "amer")),
        ("2026-01-14T21:30Z", ("amy", "amer")),
        ("2026-01-14T23:00Z", None),
        ("2026-01-17T12:00Z", None),
        ("2026-03-18T13:30Z", ("joe", "amer")),
        ("2026-03-18T07:30Z", ("li", "apac")),
        ("2026-04-15T07:30Z", ("hans", "emea")),
    ],
)
def test_follow_the_sun(when: str, who: tuple[str, str] | None) -> None:
    now = on_call(SUN, z(when))
    assert (now and (now.user, now.source)) == who


def test_follow_the_sun_hand_offs_and_gaps_over_a_winter_day() -> None:
    day = timeline(SUN, z("2026-01-14T00:00Z"), z("2026-01-15T00:00Z"))
    assert [(s.start.strftime("%H:%M"), s.user) for s in day] == [
        ("00:00", None),
        ("01:00", "wang"),
        ("08:00", "greta"),
        ("14:00", "amy"),
        ("22:00", None),
    ]
    assert [
        (s.start, s.end) for s in gaps(SUN, z("2026-01-14T00:00Z"), z("2026-01-16T00:00Z"))
    ] == [
        (z("2026-01-14T00:00Z"), z("2026-01-14T01:00Z")),
        (z("2026-01-14T22:00Z"), z("2026-01-15T01:00Z")),
        (z("2026-01-15T22:00Z"), z("2026-01-16T00:00Z")),
    ]


def test_on_call_and_next_on_call_give_exact_ends() -> None:
    assert on_call(SUN, z("2026-01-14T05:00Z")) == Segment(
        z("2026-01-14T01:00Z"), z("2026-01-14T08:00Z"), "wang", "apac"
    )
    assert next_on_call(SUN, z("2026-01-14T05:00Z")) == Segment(
        z("2026-01-14T08:00Z"), z("2026-01-14T14:00Z"), "greta", "emea"
    )
    assert next_on_call(SUN, z("2026-01-17T12:00Z")) == Segment(
        z("2026-01-19T01:00Z"), z("2026-01-19T08:00Z"), "li", "apac"
    )


def test_on_call_looks_ahead_beyond_a_day_and_stops_at_its_horizon() -> None:
    weekly = Schedule(
        rotations=(Rotation(name="w", participants=("a", "b"), start=datetime(2026, 1, 5, 9)),)
    )
    assert on_call(weekly, z("2026-01-06T00:00Z")) == Segment(
        z("2026-01-05T09:00Z"), z("2026-01-12T09:00Z"), "a", "w"
    )
    alone = Schedule(
        rotations=(Rotation(name="s", participants=("a",), start=datetime(2026, 1, 1)),)
    )
    now = on_call(alone, z("2026-06-01T00:00Z"))
    assert now is not None
    assert (now.start, now.end) == (z("2026-04-27T00:00Z"), z("2026-07-06T00:00Z"))
    assert next_on_call(alone, z("2026-06-01T00:00Z")) is None


def test_overrides_replace_whoever_is_on_call_later_ones_winning() -> None:
    schedule = Schedule(
        time_zone="Asia/Shanghai",
        rotations=(
            Rotation(name="d", participants=("ann",), shift="daily", start=datetime(2026, 1, 1)),
        ),
        overrides=(
            FixedOverride(user="dee", start=datetime(2026, 2, 1, 10), end=datetime(2026, 2, 1, 12)),
        ),
    )
    extra = [
        Override("bob", z("2026-02-01T03:00Z"), z("2026-02-01T05:00Z")),
        Override("cai", z("2026-02-01T03:30Z"), z("2026-02-01T04:00Z")),
    ]
    day = timeline(schedule, z("2026-02-01T00:00Z"), z("2026-02-01T06:00Z"), extra)
    assert [(s.start.strftime("%H:%M"), s.user, s.source) for s in day] == [
        ("00:00", "ann", "d"),
        ("02:00", "dee", "override"),
        ("03:00", "bob", "override"),
        ("03:30", "cai", "override"),
        ("04:00", "bob", "override"),
        ("05:00", "ann", "d"),
    ]
    assert [
        s.start
        for s in shifts_of(schedule, "bob", z("2026-02-01T00:00Z"), z("2026-02-02T00:00Z"), extra)
    ] == [
        z("2026-02-01T03:00Z"),
        z("2026-02-01T04:00Z"),
    ]


def test_an_override_fills_a_gap_and_next_on_call_skips_the_same_person() -> None:
    extra = [
        Override("amy", z("2026-01-14T22:00Z"), z("2026-01-15T01:00Z")),
        Override("greta", z("2026-01-15T14:00Z"), z("2026-01-15T16:00Z")),
    ]
    assert gaps(SUN, z("2026-01-14T21:00Z"), z("2026-01-15T02:00Z"), extra) == []
    assert next_on_call(SUN, z("2026-01-14T21:00Z"), extra) == Segment(
        z("2026-01-15T01:00Z"), z("2026-01-15T08:00Z"), "wang", "apac"
    )
    assert next_on_call(SUN, z("2026-01-15T09:00Z"), extra) == Segment(
        z("2026-01-15T16:00Z"), z("2026-01-15T22:00Z"), "amy", "amer"
    )


def test_whole_day_restrictions_and_a_24_hour_window_from_its_start() -> None:
    weekends = Rotation(
        name="wk",
        participants=("a",),
        start=datetime(2026, 1, 5),
        restrictions=(Restriction(days=("sat", "sun")),),
    )
    layer = layer_segments(
        weekends, "Europe/Berlin", z("2026-01-09T00:00+01:00"), z("2026-01-13T00:00+01:00")
    )
    assert [(s.start, s.user) for s in layer] == [
        (z("2026-01-09T00:00+01:00"), None),
        (z("2026-01-10T00:00+01:00"), "a"),
        (z("2026-01-12T00:00+01:00"), None),
    ]
    from_nine = weekends.model_copy(
        update={"restrictions": (Restriction(days=("mon",), start="09:00", end="09:00"),)}
    )
    layer = layer_segments(from_nine, "UTC", z("2026-01-12T00:00Z"), z("2026-01-14T00:00Z"))
    assert [(s.start, s.user) for s in layer] == [
        (z("2026-01-12T00:00Z"), None),
        (z("2026-01-12T09:00Z"), "a"),
        (z("2026-01-13T09:00Z"), None),
    ]


def test_empty_and_reversed_ranges() -> None:
    assert timeline(SUN, z("2026-01-14T05:00Z"), z("2026-01-14T05:00Z")) == []
    with pytest.raises(ValueError, match="before it starts"):
        timeline(SUN, z("2026-01-14T05:00Z"), z("2026-01-14T04:00Z"))
    with pytest.raises(ValueError, match="timezone-aware"):
        on_call(SUN, datetime(2026, 1, 14, 5))
    assert (
        timeline(SUN, z("2026-01-14T13:00+08:00"), z("2026-01-14T14:00+08:00"))[0].start.tzinfo
        is UTC
    )
