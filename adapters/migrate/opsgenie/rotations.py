"""Schedule rotations. Opsgenie gives a rotation's first hand-off as an instant
(``startDate``) and its time restriction in the schedule's time zone; Tocsin wants the hand-off
as local wall time, so the instant is read in the schedule's zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from adapters.migrate.opsgenie.people import person_id
from bot.migrate.catalog import Catalog, Layer, daily_windows, weekly_windows
from bot.migrate.reader import ImportFailed
from bot.migrate.shape import arr, instant, number, obj, text
from bot.settings.oncall import WEEKDAYS, Restriction, Weekday

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEK = 7 * 24 * 60
"""Minutes in a week: restriction windows as minute ranges, for the overlap check."""
_TURNS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}
_PARTICIPANTS = {
    "none": "the rotation has an empty slot (participant none): Tocsin turns always have someone",
    "escalation": "an escalation takes a turn in the rotation: Tocsin turns are people",
    "team": "a team takes a turn in the rotation: Tocsin turns are people",
}

Span = tuple[int, int]
"""[start, end) in minutes after Monday 00:00 local time."""


class Unfit(Exception):
    """The rotation cannot be carried over; the message says why, for `Catalog.skip`."""


def layer(rotation: dict[str, Any], zone: str, catalog: Catalog, where: str) -> Layer:
    """The rotation as a Tocsin layer; `Unfit` when it cannot be one."""
    kind = text(rotation, "type", where)
    if kind not in _TURNS:
        raise Unfit(f"rotation type {kind!r}: Tocsin knows hourly, daily and weekly turns")
    start = instant(rotation.get("startDate"), f"{where}.startDate")
    return Layer(
        origin=text(rotation, "id", where),
        name=text(rotation, "name", where, default=text(rotation, "id", where)),
        participants=_participants(rotation.get("participants"), catalog, f"{where}.participants"),
        shift=_TURNS[kind] * number(rotation, "length", where, default=1),
        start=start.astimezone(ZoneInfo(zone)).replace(tzinfo=None),
        time_zone=zone,
        restrictions=restrictions(rotation.get("timeRestriction"), f"{where}.timeRestriction"),
    )


def _participants(raw: Any, catalog: Catalog, where: str) -> tuple[str, ...]:
    found: list[str] = []
    for i, item in enumerate(arr(raw, where)):
        participant = obj(item, f"{where}[{i}]")
        kind = text(participant, "type", f"{where}[{i}]")
        if kind != "user":
            raise Unfit(_PARTICIPANTS.get(kind, f"participant of type {kind!r}"))
        found.append(person_id(participant, catalog, f"{where}[{i}]"))
    if not found:
        raise Unfit("the rotation has no participants")
    return tuple(found)


def restrictions(raw: Any, where: str) -> tuple[Restriction, ...]:
    """Opsgenie's time restriction as Tocsin windows (both in the schedule's local time)."""
    if raw is None:
        return ()
    restriction = obj(raw, where)
    kind = text(restriction, "type", where)
    if kind == "time-of-day":
        window = obj(restriction.get("restriction"), f"{where}.restriction")
        opens, length = _daily(window, f"{where}.restriction")
        return daily_windows(opens, length)
    if kind == "weekday-and-time-of-day":
        out: list[Restriction] = []
        for i, item in enumerate(arr(restriction.get("restrictions"), f"{where}.restrictions")):
            day, opens, length = _weekly(obj(item, f"{where}.restrictions[{i}]"), where, i)
            out.extend(weekly_windows(day, opens, length))
        return tuple(out)
    raise Unfit(f"restriction kind {kind!r}: Tocsin knows time-of-day and weekday windows")


def _clock(window: dict[str, Any], prefix: str, where: str) -> time:
    hour = number(window, f"{prefix}Hour", where)
    minute = number(window, f"{prefix}Min", where, default=0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ImportFailed(f"{where}: {hour:02d}:{minute:02d} is not a time of day")
    return time(hour, minute)


def _minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def _daily(window: dict[str, Any], where: str) -> tuple[time, timedelta]:
    """A daily window: an end at or before the start closes it the next day."""
    opens, closes = _clock(window, "start", where), _clock(window, "end", where)
    length = (_minutes(closes) - _minutes(opens)) % (24 * 60) or 24 * 60
    return opens, timedelta(minutes=length)


def _weekly(window: dict[str, Any], where: str, i: int) -> tuple[Weekday, time, timedelta]:
    """A weekly window from startDay at start time to endDay at end time (wrapping a week)."""
    here = f"{where}.restrictions[{i}]"
    first, last = _day(window, "startDay", here), _day(window, "endDay", here)
    opens, closes = _clock(window, "start", here), _clock(window, "end", here)
    begin = first * 24 * 60 + _minutes(opens)
    length = (last * 24 * 60 + _minutes(closes) - begin) % _WEEK or _WEEK
    return WEEKDAYS[first], opens, timedelta(minutes=length)


def _day(window: dict[str, Any], key: str, where: str) -> int:
    name = text(window, key, where).lower()
    if name not in DAYS:
        raise ImportFailed(f"{where}.{key}: {name!r} is not a day of the week")
    return DAYS.index(name)


def spans(layer: Layer) -> list[Span]:
    """When in a week the layer can have someone on call (all week without restrictions)."""
    if not layer.restrictions:
        return [(0, _WEEK)]
    out: list[Span] = []
    for restriction in layer.restrictions:
        opens, closes = _minutes(restriction.start), _minutes(restriction.end)
        length = (closes - opens) % (24 * 60) or 24 * 60
        for day in restriction.days:
            begin = WEEKDAYS.index(day) * 24 * 60 + opens
            out.extend(_wrapped(begin, begin + length))
    return out


def _wrapped(begin: int, end: int) -> list[Span]:
    if end <= _WEEK:
        return [(begin, end)]
    return [(begin, _WEEK), (0, end - _WEEK)]


def overlap(lower: Layer, upper: Layer) -> Span | None:
    """A time of the week when both layers can have someone on call, if there is one."""
    for a_start, a_end in spans(lower):
        for b_start, b_end in spans(upper):
            if max(a_start, b_start) < min(a_end, b_end):
                return max(a_start, b_start), min(a_end, b_end)
    return None


def describe(span: Span) -> str:
    """``wed 08:00`` for a minute of the week."""
    minute = span[0]
    day, rest = divmod(minute, 24 * 60)
    return f"{WEEKDAYS[day]} {rest // 60:02d}:{rest % 60:02d}"


def end_date(rotation: dict[str, Any], where: str) -> datetime | None:
    """The rotation's end date, when it has one."""
    if rotation.get("endDate") is None:
        return None
    return instant(rotation["endDate"], f"{where}.endDate")
