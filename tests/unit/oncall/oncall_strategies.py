"""Hypothesis strategies for on-call schedules, and a pointwise oracle to check them against."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from bot.oncall import Override, Segment
from bot.settings.oncall import WEEKDAYS, FixedOverride, Restriction, Rotation, Schedule

ZONES = (
    "Asia/Shanghai",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
    "UTC",
)
PEOPLE = ("ann", "bob", "cai", "dee", "eli")


@cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """The UTC instants in 2025-2027 where `zone_name` changes its offset."""
    zone = ZoneInfo(zone_name)
    found = []
    hour = datetime(2025, 1, 1, tzinfo=UTC)
    offset = hour.astimezone(zone).utcoffset()
    while hour.year < 2028:
        nxt = hour + timedelta(hours=1)
        if nxt.astimezone(zone).utcoffset() != offset:
            offset = nxt.astimezone(zone).utcoffset()
            found.append(nxt)
        hour = nxt
    return tuple(found)


ALL_TRANSITIONS = tuple(sorted({t for zone in ZONES for t in transitions(zone)}))

shifts = st.one_of(
    st.sampled_from([15, 30, 45, 90]).map(lambda m: timedelta(minutes=m)),
    st.integers(1, 72).map(lambda h: timedelta(hours=h)),
    st.integers(1, 14).map(lambda d: timedelta(days=d)),
    st.integers(1, 3).map(lambda w: timedelta(weeks=w)),
)
walls = st.builds(
    datetime.combine,
    st.dates(date(2024, 1, 1), date(2027, 12, 31)),
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
)
restrictions = st.builds(
    Restriction,
    days=st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True).map(tuple),
    start=st.builds(time, st.integers(0, 23), st.sampled_from([0, 30])),
    end=st.builds(time, st.integers(0, 23), st.sampled_from([0, 30])),
)


@st.composite
def rotations(draw: st.DrawFn, name: str = "r0", restricted: bool = True) -> Rotation:
    zone = draw(st.sampled_from((None, *ZONES)))
    start = draw(walls)
    if draw(st.booleans()):
        start = start.replace(tzinfo=ZoneInfo(draw(st.sampled_from(ZONES))))
    return Rotation(
        name=name,
        participants=tuple(draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4))),
        shift=draw(shifts),
        start=start,
        time_zone=zone,
        restrictions=tuple(draw(st.lists(restrictions, max_size=2))) if restricted else (),
    )


@st.composite
def windows(
    draw: st.DrawFn, longest: timedelta = timedelta(days=10), zone: str | None = None
) -> tuple[datetime, datetime]:
    """A query range holding a DST change of 2025-2027 (of `zone`, when it has any), near one,
    or anywhere."""
    changes = transitions(zone) if zone else ALL_TRANSITIONS
    most = int(longest.total_seconds() // 60)
    mode = draw(st.sampled_from(("holding", "holding", "near", "anywhere")))
    if not changes or mode == "anywhere":
        day = draw(st.dates(date(2025, 1, 1), date(2027, 12, 31)))
        start = datetime.combine(day, time(), UTC) + timedelta(minutes=draw(st.integers(0, 1439)))
        return start, start + timedelta(minutes=draw(st.integers(1, most)))
    anchor = draw(st.sampled_from(changes))
    if mode == "near":
        start = anchor + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 24 * 60)))
        return start, start + timedelta(minutes=draw(st.integers(1, most)))
    before = draw(st.integers(0, most - 1))
    after = draw(st.integers(1, most - before))
    return anchor - timedelta(minutes=before), anchor + timedelta(minutes=after)


@st.composite
def schedules(draw: st.DrawFn, layers: int = 3) -> Schedule:
    count = draw(st.integers(1, layers))
    return Schedule(
        time_zone=draw(st.sampled_from(ZONES)),
        rotations=tuple(draw(rotations(name=f"r{i}")) for i in range(count)),
    )


@st.composite
def schedules_and_windows(
    draw: st.DrawFn, layers: int = 3, longest: timedelta = timedelta(days=10)
) -> tuple[Schedule, tuple[datetime, datetime]]:
    """A schedule and a range near a DST change of one of the zones it uses."""
    schedule = draw(schedules(layers))
    zones = {r.time_zone or schedule.time_zone for r in schedule.rotations}
    zone = draw(st.sampled_from(sorted(zones)))
    start, end = draw(windows(longest, zone))
    fixed = []
    for extra in draw(overrides(start, end, most=2)):
        begin, finish = extra.start, extra.end
        if draw(st.booleans()):
            tz = ZoneInfo(schedule.time_zone)
            begin = begin.astimezone(tz).replace(tzinfo=None)
            finish = max(finish.astimezone(tz).replace(tzinfo=None), begin + timedelta(minutes=1))
        fixed.append(FixedOverride(user=extra.user, start=begin, end=finish))
    return schedule.model_copy(update={"overrides": tuple(fixed)}), (start, end)


@st.composite
def overrides(draw: st.DrawFn, start: datetime, end: datetime, most: int = 3) -> list[Override]:
    found = []
    for _ in range(draw(st.integers(0, most))):
        span = int((end - start).total_seconds() // 60) + 120
        begin = start - timedelta(minutes=60) + timedelta(minutes=draw(st.integers(0, span)))
        length = timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
        found.append(Override(draw(st.sampled_from(PEOPLE)), begin, begin + length))
    return found


def instants(start: datetime, end: datetime) -> st.SearchStrategy[datetime]:
    seconds = int((end - start).total_seconds())
    return st.integers(0, max(seconds - 1, 0)).map(lambda s: start + timedelta(seconds=s))


def _utc(wall: datetime, zone: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def layer_person(rotation: Rotation, default_zone: str, at: datetime) -> str | None:
    """Who the rotation has on call at `at`, by the definition: the turn of the last hand-off
    (wall time localised with fold=0) at or before `at`, if inside a restriction window."""
    zone = ZoneInfo(rotation.time_zone or default_zone)
    origin = rotation.start
    if origin.tzinfo is not None:
        origin = origin.astimezone(zone).replace(tzinfo=None)
    wall = at.astimezone(zone).replace(tzinfo=None)
    guess = (wall - origin) // rotation.shift
    reach = 12
    started = [
        k
        for k in range(guess - reach, guess + reach)
        if _utc(origin + k * rotation.shift, zone) <= at
    ]
    assert guess - reach in started and max(started) < guess + reach - 1, "oracle too narrow"
    person = rotation.participants[max(started) % len(rotation.participants)]
    if not rotation.restrictions:
        return person
    for day in (wall.date() - timedelta(days=1), wall.date()):
        for rule in rotation.restrictions:
            if WEEKDAYS[day.weekday()] not in rule.days:
                continue
            close_day = day if rule.end > rule.start else day + timedelta(days=1)
            opens = _utc(datetime.combine(day, rule.start), zone)
            closes = _utc(datetime.combine(close_day, rule.end), zone)
            if opens <= at < closes:
                return person
    return None


def expected(
    schedule: Schedule, at: datetime, extra: Sequence[Override] = ()
) -> tuple[str | None, str]:
    """(user, source) at `at`: the last override holding it, else the highest layer with
    someone, else nobody."""
    zone = ZoneInfo(schedule.time_zone)
    every: list[Override | FixedOverride] = [*schedule.overrides, *extra]
    for override in reversed(every):
        begin, end = override.start, override.end
        if begin.tzinfo is None:
            begin, end = _utc(begin, zone), _utc(end, zone)
        if begin <= at < end:
            return override.user, "override"
    for rotation in reversed(schedule.rotations):
        person = layer_person(rotation, schedule.time_zone, at)
        if person is not None:
            return person, rotation.name
    return None, ""


def assert_tiles(segments: Sequence[Segment], start: datetime, end: datetime) -> None:
    """Segments cover [start, end) exactly, in order, each non-empty, neighbours differing."""
    assert segments, "no segments"
    assert segments[0].start == start
    assert segments[-1].end == end
    for seg in segments:
        assert seg.start < seg.end
        assert seg.start.tzinfo is UTC and seg.end.tzinfo is UTC
    for left, right in pairwise(segments):
        assert left.end == right.start
        assert (left.user, left.source) != (right.user, right.source)


def holding(segments: Sequence[Segment], when: datetime) -> Segment:
    """The one segment holding `when`."""
    found = [s for s in segments if s.start <= when < s.end]
    assert len(found) == 1
    return found[0]
