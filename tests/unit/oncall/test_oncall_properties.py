"""Hypothesis: layers and the final schedule against the pointwise definition, across zones,
shift lengths, anchors and DST changes of 2025-2027."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oncall_strategies import (
    PEOPLE,
    ZONES,
    assert_tiles,
    expected,
    holding,
    instants,
    layer_person,
    overrides,
    rotations,
    schedules_and_windows,
    walls,
    windows,
)

from bot.oncall import gaps, layer_segments, next_on_call, on_call, shifts_of, timeline
from bot.settings.oncall import Rotation, Schedule

moderate = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
heavy = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@moderate
@given(rotations(), st.sampled_from(ZONES), st.data())
def test_a_layer_has_exactly_one_person_or_nobody_at_each_instant(
    rotation: Rotation, zone: str, data: st.DataObject
) -> None:
    start, end = data.draw(windows(zone=rotation.time_zone or zone))
    segments = layer_segments(rotation, zone, start, end)
    assert_tiles(segments, start, end)
    for seg in segments:
        assert seg.user in (*rotation.participants, None)
        assert seg.source == (rotation.name if seg.user else "")
    for _ in range(5):
        when = data.draw(instants(start, end))
        assert holding(segments, when).user == layer_person(rotation, zone, when)


@moderate
@given(
    st.sampled_from(ZONES),
    st.integers(1, 14),
    st.integers(4, 23),
    st.sampled_from([0, 15, 30, 45]),
    walls,
    st.data(),
)
def test_day_multiple_hand_offs_keep_their_local_wall_time(
    zone: str, days: int, hour: int, minute: int, anchor: datetime, data: st.DataObject
) -> None:
    window = data.draw(windows(longest=timedelta(days=40), zone=zone))
    rotation = Rotation(
        name="daily",
        participants=("ann", "bob"),
        shift=timedelta(days=days),
        start=anchor.replace(hour=hour, minute=minute),
    )
    start, end = window
    segments = layer_segments(rotation, zone, start, end)
    tz = ZoneInfo(zone)
    for left, right in pairwise(segments):
        local = right.start.astimezone(tz)
        assert (local.hour, local.minute) == (hour, minute)
        if left.start != start:
            wall_days = (right.start.astimezone(tz).date() - left.start.astimezone(tz).date()).days
            assert wall_days == days
            length = right.start - left.start
            assert abs(length - timedelta(days=days)) <= timedelta(hours=1)


@heavy
@given(schedules_and_windows(), st.data())
def test_the_final_schedule_follows_layers_restrictions_and_overrides(
    case: tuple[Schedule, tuple[datetime, datetime]], data: st.DataObject
) -> None:
    schedule, (start, end) = case
    extra = data.draw(overrides(start, end))
    segments = timeline(schedule, start, end, extra)
    assert_tiles(segments, start, end)
    for _ in range(8):
        when = data.draw(instants(start, end))
        seg = holding(segments, when)
        assert (seg.user, seg.source) == expected(schedule, when, extra)


@heavy
@given(schedules_and_windows(layers=2, longest=timedelta(days=3)), st.data())
def test_on_call_agrees_with_the_timeline(
    case: tuple[Schedule, tuple[datetime, datetime]], data: st.DataObject
) -> None:
    schedule, (start, end) = case
    extra = data.draw(overrides(start, end))
    segments = timeline(schedule, start, end, extra)
    when = data.draw(instants(start, end))
    seg = holding(segments, when)
    now = on_call(schedule, when, extra)
    if seg.user is None:
        assert now is None
        return
    assert now is not None
    assert (now.user, now.source) == (seg.user, seg.source)
    assert now.start <= seg.start and now.end >= seg.end
    if seg.start > start:
        assert now.start == seg.start
    if seg.end < end:
        assert now.end == seg.end


@heavy
@given(schedules_and_windows(layers=2, longest=timedelta(days=3)), st.data())
def test_next_on_call_is_the_first_other_person(
    case: tuple[Schedule, tuple[datetime, datetime]], data: st.DataObject
) -> None:
    schedule, (start, end) = case
    when = data.draw(instants(start, end))
    upcoming = next_on_call(schedule, when)
    segments = timeline(schedule, when, when + timedelta(days=35))
    current = segments[0].user
    later = [s for s in segments if s.user is not None and s.user != current]
    if not later:
        assert upcoming is None
        return
    assert upcoming is not None
    assert (upcoming.start, upcoming.user, upcoming.source) == (
        later[0].start,
        later[0].user,
        later[0].source,
    )
    assert upcoming.end == later[0].end


@heavy
@given(schedules_and_windows(longest=timedelta(days=4)), st.sampled_from(PEOPLE), st.data())
def test_gaps_and_shifts_partition_the_timeline(
    case: tuple[Schedule, tuple[datetime, datetime]], person: str, data: st.DataObject
) -> None:
    schedule, (start, end) = case
    extra = data.draw(overrides(start, end))
    segments = timeline(schedule, start, end, extra)
    assert gaps(schedule, start, end, extra) == [s for s in segments if s.user is None]
    assert shifts_of(schedule, person, start, end, extra) == [
        s for s in segments if s.user == person
    ]


@moderate
@given(schedules_and_windows(longest=timedelta(days=4)), st.data())
def test_timelines_agree_where_their_ranges_overlap(
    case: tuple[Schedule, tuple[datetime, datetime]], data: st.DataObject
) -> None:
    schedule, (start, end) = case
    cut = data.draw(instants(start, end))
    whole = timeline(schedule, start, end)
    parts = [timeline(schedule, start, cut), timeline(schedule, cut, end)]
    for lo, hi, part in ((start, cut, parts[0]), (cut, end, parts[1])):
        inner = {s.start for s in whole if lo < s.start < hi}
        assert inner == {s.start for s in part if lo < s.start}
        for seg in part:
            assert (seg.user, seg.source) == (
                holding(whole, seg.start).user,
                holding(whole, seg.start).source,
            )


@moderate
@given(rotations(restricted=False), st.sampled_from(ZONES), st.data())
def test_a_later_layer_wins_wherever_it_has_someone(
    rotation: Rotation, zone: str, data: st.DataObject
) -> None:
    start, end = data.draw(windows(zone=rotation.time_zone or zone))
    top = data.draw(rotations(name="top"))
    schedule = Schedule(time_zone=zone, rotations=(rotation, top))
    segments = timeline(schedule, start, end)
    upper = layer_segments(top, zone, start, end)
    for seg in upper:
        if seg.user is not None:
            covered = [s for s in segments if s.start < seg.end and seg.start < s.end]
            assert {(s.user, s.source) for s in covered} == {(seg.user, "top")}
    assert all(s.user is not None for s in segments)
