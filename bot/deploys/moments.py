"""Times on run cards and lines, in the reader's zone and language: ``14:05 CST`` in English,
``14:05（北京时间）`` in Chinese, whose readers get the zone as words, not an English
abbreviation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from bot.i18n import t

Zone = tzinfo | str
"""A zone, or its IANA name (``Asia/Shanghai``)."""

_ZH_ZONES = {timedelta(0): "deploy.zone.utc", timedelta(hours=8): "deploy.zone.beijing"}


def zone(tz: Zone) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def clock_time(moment: datetime, lang: str, tz: Zone = UTC, *, date: bool = False) -> str:
    """`moment` as HH:MM (with the date first when `date`) in `tz`, with the zone."""
    local = moment.astimezone(zone(tz))
    shown = local.strftime("%Y-%m-%d %H:%M" if date else "%H:%M")
    if lang != "zh":
        return f"{shown} {local.tzname() or 'UTC'}"
    offset = local.utcoffset() or timedelta(0)
    key = _ZH_ZONES.get(offset)
    if key is not None:
        return t("deploy.zone.shown", lang, time=shown, zone=t(key, lang))
    hours = offset.total_seconds() / 3600
    return t("deploy.zone.offset", lang, time=shown, offset=f"{hours:+g}")


def stamp(moment: datetime | None, lang: str, tz: Zone = UTC) -> str:
    """`moment` with its date, or "-" when there is none."""
    return clock_time(moment, lang, tz, date=True) if moment is not None else "-"
