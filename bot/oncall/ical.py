"""A schedule as an iCalendar feed, and overrides read back from an .ics file (RFC 5545)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.oncall.ics import ContentLine, escape, fold, parse_line, unescape, unfold
from bot.oncall.model import Override, from_wall, utc
from bot.oncall.timeline import timeline
from bot.settings.oncall import Schedule

if TYPE_CHECKING:
    from bot.settings.schema import User

_NO_NAMES: Mapping[str, str] = MappingProxyType({})
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATETIME = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)$")
_DURATION = re.compile(
    r"^([+-]?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.IGNORECASE
)
_SUMMARY = re.compile(r"^on[- ]call:\s*(.+?)(?:\s*\([^()]*\))?$", re.IGNORECASE)


def _stamp(when: datetime) -> str:
    return utc(when).strftime("%Y%m%dT%H%M%SZ")


def export_ics(
    name: str,
    schedule: Schedule,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
    *,
    names: Mapping[str, str] = _NO_NAMES,
    now: datetime,
    domain: str = "tocsin",
) -> str:
    """The final schedule over [start, end) as a VCALENDAR: one event per stretch with someone
    on call, titled with their display name from `names` (else their id)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Tocsin//On-call schedule//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape(f'On call: {name}')}",
        f"X-WR-TIMEZONE:{schedule.time_zone}",
    ]
    for segment in timeline(schedule, start, end, overrides):
        if segment.user is None:
            continue
        key = f"{name}\x00{segment.start.isoformat()}\x00{segment.user}".encode()
        shown = names.get(segment.user, segment.user)
        source = "override" if segment.source == "override" else f"rotation {segment.source}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{hashlib.sha256(key).hexdigest()[:32]}@{domain}",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(segment.start)}",
            f"DTEND:{_stamp(segment.end)}",
            f"SUMMARY:{escape(f'On call: {shown} ({name})')}",
            f"DESCRIPTION:{escape(f'{shown} is on call for {name} ({source}).')}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def people_index(users: Iterable[User]) -> dict[str, str]:
    """Each user's lower-case id, name and e-mail address → their id: how `parse_overrides`
    finds an event's person."""
    index: dict[str, str] = {}
    for user in users:
        for key in (user.id, user.name, user.contact.email):
            if key:
                index[key.lower()] = user.id
    return index


def parse_overrides(text: str, users: Mapping[str, str]) -> list[Override]:
    """Overrides from the single (non-recurring) events of an .ics file. The person is looked
    up in `users` (lower-case name, e-mail or id -> user id) from the SUMMARY, then the
    ATTENDEE and ORGANIZER addresses and names. Cancelled events are skipped. The override's
    id is the event's UID and its reason the SUMMARY. ValueError names the offending line."""
    stack: list[ContentLine] = []
    events: list[tuple[ContentLine, list[ContentLine]]] = []
    seen_calendar = False
    for number, raw in unfold(text):
        line = parse_line(number, raw)
        kind = line.value.strip().upper()
        if line.name == "BEGIN":
            if not stack and kind != "VCALENDAR":
                raise ValueError(f"line {number}: expected BEGIN:VCALENDAR, got BEGIN:{kind}")
            seen_calendar = True
            if kind == "VEVENT" and len(stack) == 1:
                events.append((line, []))
            stack.append(line)
        elif line.name == "END":
            if not stack or stack[-1].value.strip().upper() != kind:
                opened = f"BEGIN:{stack[-1].value.strip()}" if stack else "nothing"
                raise ValueError(f"line {number}: END:{kind} does not close {opened}")
            stack.pop()
        elif not stack:
            raise ValueError(f"line {number}: {line.name} outside BEGIN:VCALENDAR")
        elif len(stack) == 2 and stack[-1].value.strip().upper() == "VEVENT":
            events[-1][1].append(line)
    if stack:
        raise ValueError(f"line {stack[-1].number}: BEGIN:{stack[-1].value} is never closed")
    if not seen_calendar:
        raise ValueError("no BEGIN:VCALENDAR found: not an iCalendar file")
    found = (_override(begin, props, users) for begin, props in events)
    return [override for override in found if override is not None]


def _override(
    begin: ContentLine, props: list[ContentLine], users: Mapping[str, str]
) -> Override | None:
    first = {p.name: p for p in reversed(props)}
    where = f"line {begin.number}"
    if "RRULE" in first or "RDATE" in first:
        raise ValueError(
            f"{where}: recurring events are not supported (RRULE/RDATE); "
            "export the occurrences as single events"
        )
    if "STATUS" in first and first["STATUS"].value.strip().upper() == "CANCELLED":
        return None
    if "DTSTART" not in first:
        raise ValueError(f"{where}: event has no DTSTART")
    start, whole_day = _when(first["DTSTART"])
    if "DTEND" in first:
        end, _ = _when(first["DTEND"])
    elif "DURATION" in first:
        end = start + _duration(first["DURATION"])
    elif whole_day:
        end = start + timedelta(days=1)
    else:
        raise ValueError(f"{where}: event has no DTEND or DURATION")
    if end <= start:
        raise ValueError(f"{where}: event ends ({end.isoformat()}) before it starts")
    summary = unescape(first["SUMMARY"].value).strip() if "SUMMARY" in first else ""
    user = _person(summary, props, users)
    if user is None:
        raise ValueError(
            f"{where}: no known person in event {summary!r} "
            "(looked at SUMMARY, ATTENDEE and ORGANIZER)"
        )
    uid = first["UID"].value.strip() if "UID" in first else ""
    return Override(user=user, start=start, end=end, id=uid, reason=summary)


def _when(line: ContentLine) -> tuple[datetime, bool]:
    """A DTSTART/DTEND in UTC, and whether it is a whole-day DATE value."""
    value = line.value.strip()
    if date := _DATE.match(value):
        return _datetime(line, *(int(part) for part in date.groups())).replace(tzinfo=UTC), True
    stamp = _DATETIME.match(value)
    if not stamp or line.params.get("VALUE", "DATE-TIME").upper() == "DATE":
        raise ValueError(f"line {line.number}: {line.name} {value!r} is not a date or date-time")
    wall = _datetime(line, *(int(part) for part in stamp.groups()[:6]))
    if stamp[7] == "Z" or "TZID" not in line.params:
        return wall.replace(tzinfo=UTC), False
    tzid = line.params["TZID"].lstrip("/")
    try:
        zone = ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"line {line.number}: unknown time zone {tzid!r} (use an IANA name like Asia/Shanghai)"
        ) from None
    return from_wall(wall, zone), False


def _datetime(
    line: ContentLine, year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0
) -> datetime:
    try:
        return datetime(year, month, day, hour, minute, sec)
    except ValueError:
        raise ValueError(f"line {line.number}: {line.name} {line.value!r} is not a date") from None


def _duration(line: ContentLine) -> timedelta:
    match = _DURATION.match(line.value.strip())
    if not match or not any(match.groups()[1:]):
        raise ValueError(f"line {line.number}: DURATION {line.value!r} is not a duration")
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups()[1:])
    length = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    return -length if match[1] == "-" else length


def _person(summary: str, props: list[ContentLine], users: Mapping[str, str]) -> str | None:
    candidates = [summary]
    if named := _SUMMARY.match(summary):
        candidates.append(named[1])
    for role in ("ATTENDEE", "ORGANIZER"):
        for prop in props:
            if prop.name == role:
                address = prop.value.strip()
                if address.lower().startswith("mailto:"):
                    candidates.append(address[len("mailto:") :])
                candidates.append(prop.params.get("CN", ""))
    keys = [c.strip().lower() for c in candidates]
    return next((users[key] for key in keys if key and key in users), None)
