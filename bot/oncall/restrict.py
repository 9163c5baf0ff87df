"""Restriction windows: when a restricted layer may have someone, in its local wall time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.oncall.model import from_wall, to_wall
from bot.settings.oncall import WEEKDAYS, Restriction

_DAY = timedelta(days=1)


def windows(
    restrictions: Sequence[Restriction], zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The UTC ranges inside `restrictions` over [start, end), sorted, merged and clipped.

    A window opens on each of its days at `start` wall time and closes at `end` wall time that
    day, or the next day when `end` is at or before `start` (equal times: 24 wall hours)."""
    day = to_wall(start, zone).date() - _DAY
    last = to_wall(end, zone).date()
    ranges: list[tuple[datetime, datetime]] = []
    while day <= last:
        weekday = WEEKDAYS[day.weekday()]
        for rule in restrictions:
            if weekday not in rule.days:
                continue
            opens, closes = rule.start.replace(tzinfo=None), rule.end.replace(tzinfo=None)
            begin = from_wall(datetime.combine(day, opens), zone)
            finish = from_wall(
                datetime.combine(day if closes > opens else day + _DAY, closes), zone
            )
            lo, hi = max(begin, start), min(finish, end)
            if lo < hi:
                ranges.append((lo, hi))
        day += _DAY
    ranges.sort()
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged
