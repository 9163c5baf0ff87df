"""When a recurring maintenance window occurs: pure wall-clock maths in the window's zone.

A window opens on each of its days at `start` local time and closes at `end` that day, or the
next day when `end` is at or before `start` (equal times: 24 wall-clock hours), as schedule
restrictions read them (`bot.oncall.restrict`). Clocks that jump are met the way people read
a window: a wall time in a spring-forward gap never shows, so it means the first instant after
the gap (02:30 on the night 02:00 becomes 03:00 is 03:00); a wall time shown twice when clocks
fall back means its first showing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.oncall.model import from_wall, in_gap, to_wall
from bot.settings.oncall import WEEKDAYS
from bot.settings.watch import RecurringWindow

_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of a recurring window, in UTC: [starts_at, ends_at)."""

    name: str
    starts_at: datetime
    ends_at: datetime


def instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a naive wall time in `zone` stands for: a time in a spring-forward gap
    is the gap's end (the first instant after it), an ambiguous one its first occurrence."""
    at = from_wall(wall, zone)
    if not in_gap(wall, zone):
        return at
    # fold=0 maps a gap time forward by the gap's length, past the gap's end: find the end,
    # the first instant whose wall time is at or after `wall`, between the two folds' answers
    low, high = wall.replace(tzinfo=zone, fold=1).astimezone(at.tzinfo), at
    while high - low > _SECOND:
        middle = low + (high - low) / 2
        if to_wall(middle, zone) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def on_day(window: RecurringWindow, day: date) -> Occurrence:
    """The occurrence that opens on local calendar day `day` (whatever weekday it is)."""
    zone = ZoneInfo(window.time_zone)
    opens, closes = window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)
    start = instant(datetime.combine(day, opens), zone)
    end = instant(datetime.combine(day if closes > opens else day + _DAY, closes), zone)
    return Occurrence(window.name, start, end)


def occurrences(window: RecurringWindow, start: datetime, end: datetime) -> Iterator[Occurrence]:
    """The window's occurrences that overlap [start, end) (aware datetimes), in order, each
    whole (not clipped). An occurrence that a jump of the clocks leaves empty is skipped."""
    zone = ZoneInfo(window.time_zone)
    day = to_wall(start, zone).date() - _DAY  # one that opened yesterday may still run
    last = to_wall(end, zone).date()
    while day <= last:
        if WEEKDAYS[day.weekday()] in window.days:
            found = on_day(window, day)
            if found.starts_at < found.ends_at and found.starts_at < end and found.ends_at > start:
                yield found
        day += _DAY
