"""The final schedule: layers (the highest with someone wins), then overrides, and the
questions asked of it: who is on call, who is next, where are the gaps, whose shifts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.oncall.layer import layer_segments
from bot.oncall.model import Override, Segment, instant, span, utc
from bot.oncall.segments import overlay, paint, tile
from bot.settings.oncall import FixedOverride, Schedule

REACHES = (timedelta(days=1), timedelta(days=7), timedelta(days=35))
"""How far `on_call` and `next_on_call` look, widening until the answer fits."""


def timeline(
    schedule: Schedule, start: datetime, end: datetime, overrides: Sequence[Override] = ()
) -> list[Segment]:
    """Who is on call over [start, end): segments tiling the range exactly, neighbours with the
    same person and source merged. The schedule's own overrides apply first, then `overrides`
    in order; a later one wins over an earlier one."""
    start, end = span(start, end)
    if start == end:
        return []
    result = tile((), start, end)
    for rotation in schedule.rotations:
        result = overlay(result, layer_segments(rotation, schedule.time_zone, start, end))
    zone = ZoneInfo(schedule.time_zone)
    every: tuple[FixedOverride | Override, ...] = (*schedule.overrides, *overrides)
    for override in every:
        begin = max(instant(override.start, zone), start)
        finish = min(instant(override.end, zone), end)
        if begin < finish:
            result = paint(result, Segment(begin, finish, override.user, "override"))
    return result


def _containing(segments: Sequence[Segment], at: datetime) -> Segment:
    return next(s for s in segments if s.start <= at < s.end)


def on_call(schedule: Schedule, at: datetime, overrides: Sequence[Override] = ()) -> Segment | None:
    """The final segment holding `at`, or None when nobody is on call. Its start and end are
    exact unless they lie beyond the last of `REACHES` from `at`."""
    at = utc(at, "at")
    for reach in REACHES:
        found = _containing(timeline(schedule, at - reach, at + reach, overrides), at)
        if at - reach < found.start and found.end < at + reach:
            break
    return found if found.user is not None else None


def next_on_call(
    schedule: Schedule, at: datetime, overrides: Sequence[Override] = ()
) -> Segment | None:
    """The first segment after the one holding `at` with someone else on call (within the last
    of `REACHES`), or None."""
    at = utc(at, "at")
    for reach in REACHES:
        segments = timeline(schedule, at, at + reach, overrides)
        current = segments[0].user
        found = next((s for s in segments if s.user not in (None, current)), None)
        if found is not None and (found.end < at + reach or reach == REACHES[-1]):
            return found
    return None


def gaps(
    schedule: Schedule, start: datetime, end: datetime, overrides: Sequence[Override] = ()
) -> list[Segment]:
    """The times in [start, end) with nobody on call."""
    return [s for s in timeline(schedule, start, end, overrides) if s.user is None]


def shifts_of(
    schedule: Schedule,
    user: str,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
) -> list[Segment]:
    """The times in [start, end) when `user` is on call, by rotation or override."""
    return [s for s in timeline(schedule, start, end, overrides) if s.user == user]
