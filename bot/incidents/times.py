"""Moments as a reader sees them: the clock time in their zone, with the zone's abbreviation,
and how long ago (or how soon) that is, in their language.

    stamp(started, now, "Asia/Shanghai", "en")  ->  "02:14 CST · 12 min ago"
    stamp(started, now, "Asia/Shanghai", "zh")  ->  "02:14（北京时间） · 12 分钟前"

A moment on another day than `now` (in the reader's zone) shows its date too. A zone name that
is not an IANA zone reads as UTC rather than failing a card.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.deploys.moments import clock_time
from bot.i18n import t

MINUTE, HOUR, DAY = 60, 3600, 86400


@cache
def zone(name: str) -> tzinfo:
    """The zone called `name`, or UTC when there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def clock(moment: datetime, now: datetime, tz: str, lang: str = "en") -> str:
    """``02:14 CST``, or ``2026-01-04 23:10 CST`` on another day than `now`; in Chinese the
    zone in words (``02:14（北京时间）``), as on run cards (`bot.deploys.moments`)."""
    local, today = moment.astimezone(zone(tz)), now.astimezone(zone(tz))
    return clock_time(moment, lang, zone(tz), date=local.date() != today.date())


def relative(moment: datetime, now: datetime, lang: str) -> str:
    """``12 min ago`` / ``12 分钟前``; ``in 25 min`` / ``25 分钟后`` for a moment to come."""
    seconds = int((now - moment).total_seconds())
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds < MINUTE:
        return t("time.now", lang)
    if seconds < HOUR:
        unit, count = "min", seconds // MINUTE
    elif seconds < 2 * DAY:
        unit, count = "hours", seconds // HOUR
    else:
        unit, count = "days", seconds // DAY
    return t(f"time.{'in' if ahead else 'ago'}.{unit}", lang, n=count)


def stamp(moment: datetime, now: datetime, tz: str, lang: str) -> str:
    """The clock time and the relative time: ``02:14 CST · 12 min ago``."""
    return f"{clock(moment, now, tz, lang)} · {relative(moment, now, lang)}"
