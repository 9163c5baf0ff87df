"""Working hours and their complement: how much of a stretch of on-call time falls outside a
person's working day, in their own zone.

Working hours are Monday to Friday, 09:00 to 18:00 local wall time. A day's window is found
from its wall times, so a daylight-saving change moves it with the clocks: a person in New York
works 09:00–18:00 on the Monday after the spring change as on the Friday before it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.oncall.model import from_wall, to_wall

WORK_DAYS = frozenset(range(5))
"""Monday (0) to Friday (4)."""
WORK_START, WORK_END = time(9, 0), time(18, 0)

_DAY = timedelta(days=1)


def working_windows(
    zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The UTC ranges of working hours in `zone` overlapping [start, end), clipped, in order."""
    out: list[tuple[datetime, datetime]] = []
    day: date = to_wall(start, zone).date() - _DAY
    last = to_wall(end, zone).date()
    while day <= last:
        if day.weekday() in WORK_DAYS:
            lo = max(from_wall(datetime.combine(day, WORK_START), zone), start)
            hi = min(from_wall(datetime.combine(day, WORK_END), zone), end)
            if lo < hi:
                out.append((lo, hi))
        day += _DAY
    return out


def off_hours(start: datetime, end: datetime, zone: ZoneInfo) -> timedelta:
    """The part of [start, end) outside working hours in `zone`."""
    if end <= start:
        return timedelta(0)
    working = sum((hi - lo for lo, hi in working_windows(zone, start, end)), timedelta(0))
    return (end - start) - working


def is_off_hours(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether `moment` lies outside working hours in `zone`."""
    wall = to_wall(moment, zone)
    return wall.weekday() not in WORK_DAYS or not WORK_START <= wall.time() < WORK_END
