"""Grafana OnCall schedules and their on-call shifts as Tocsin rotas.

OnCall keeps a shift's times as wall-clock time in the shift's ``time_zone`` (else the
schedule's) and repeats it with an iCal recurrence rule, so hand-offs keep their local time
across daylight-saving changes, as Tocsin's do. A ``rolling_users`` shift hands over to the
next group of users once per ``frequency`` step (the next hour, the next day, the next week by
``week_start``), each group's events being the shift's own events (``start`` for ``duration``,
on the ``by_day`` days for a weekly shift). Only shapes Tocsin computes the same way are
carried; everything else is reported in `Catalog.skipped`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.migrate.oncall.pages import Found
from bot.migrate.catalog import Catalog, Cover, Layer, Rota, daily_windows, weekly_windows
from bot.migrate.reader import ImportFailed
from bot.migrate.shape import arr, number, text, when
from bot.settings.oncall import WEEKDAYS, Restriction, Weekday

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)
TURNS = {"hourly": HOUR, "daily": DAY, "weekly": WEEK}
ICAL_DAYS: dict[str, Weekday] = dict(
    zip(("MO", "TU", "WE", "TH", "FR", "SA", "SU"), WEEKDAYS, strict=True)
)


class Unfit(Exception):
    """A shift Tocsin cannot compute the way OnCall does; the message says why."""


@dataclass(frozen=True, slots=True)
class Shift:
    """One on-call shift read from ``/api/v1/on_call_shifts/``, times as local wall time."""

    data: dict[str, Any]
    where: str
    zone: str

    @property
    def origin(self) -> str:
        return text(self.data, "id", self.where)

    @property
    def name(self) -> str:
        return text(self.data, "name", self.where, default=self.origin)

    @property
    def kind(self) -> str:
        return text(self.data, "type", self.where)

    @property
    def level(self) -> int:
        return number(self.data, "level", self.where, default=0)

    def wall(self, key: str) -> datetime | None:
        """A time field as naive wall time in the shift's zone (None when absent)."""
        value = self.data.get(key)
        if value is None:
            return None
        parsed = when(value, f"{self.where}.{key}")
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(ZoneInfo(self.zone)).replace(tzinfo=None)
        return parsed

    @property
    def start(self) -> datetime:
        start = self.wall("start")
        if start is None:
            raise ImportFailed(f"{self.where}.start: expected a time, found nothing")
        return start

    @property
    def duration(self) -> timedelta:
        seconds = number(self.data, "duration", self.where)
        if seconds <= 0:
            raise ImportFailed(f"{self.where}.duration: expected a positive number of seconds")
        return timedelta(seconds=seconds)

    def instant(self, wall: datetime) -> datetime:
        return wall.replace(tzinfo=ZoneInfo(self.zone)).astimezone(UTC)

    def people(self, key: str) -> list[str]:
        where = f"{self.where}.{key}"
        return [_user(u, f"{where}[{i}]") for i, u in enumerate(arr(self.data.get(key, []), where))]


def _user(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ImportFailed(f"{where}: expected a user id, found {value!r}")
    return value


def read_rotas(
    schedules: Sequence[Found], shifts: Sequence[Found], now: datetime, catalog: Catalog
) -> None:
    """Add each schedule of `schedules` (``/api/v1/schedules/``) to `catalog`, its layers and
    overrides taken from `shifts` (``/api/v1/on_call_shifts/``)."""
    by_id = {text(data, "id", where): (data, where) for data, where in shifts}
    for data, where in schedules:
        rota = _rota(data, where, by_id, now, catalog)
        if rota is not None:
            catalog.schedules.append(rota)


def _rota(
    data: dict[str, Any],
    where: str,
    shifts: dict[str, Found],
    now: datetime,
    catalog: Catalog,
) -> Rota | None:
    origin, name = text(data, "id", where), text(data, "name", where)
    kind = text(data, "type", where, default="web")
    if kind == "ical":
        catalog.skip(
            "schedule",
            origin,
            name,
            "iCal schedule: its shifts come from an outside calendar (ical_url_primary), "
            "not from rotations; recreate it as rotations",
        )
        return None
    zone = _zone(text(data, "time_zone", where, default="UTC"), f"{where}.time_zone")
    if data.get("ical_url_overrides"):
        catalog.skip(
            "schedule overrides",
            origin,
            name,
            "overrides from an iCal feed (ical_url_overrides) are not read; add the coming "
            "ones as overrides by hand",
        )
    layers: list[tuple[int, Layer]] = []
    covers: list[Cover] = []
    ids = arr(data.get("shifts", []), f"{where}.shifts")
    for index, shift_id in enumerate(ids):
        found = shifts.get(_user(shift_id, f"{where}.shifts[{index}]"))
        if found is None:
            catalog.skip(
                "shift",
                str(shift_id),
                str(shift_id),
                f"not listed by on_call_shifts (schedule {name})",
            )
            continue
        shift = Shift(found[0], found[1], _shift_zone(found[0], found[1], zone))
        if shift.kind == "override":
            covers.extend(_covers(shift, now, catalog))
        else:
            layer = _layer_or_skip(shift, now, catalog)
            if layer is not None:
                layers.append((shift.level, layer))
    _note_shared_levels(layers, origin, name, catalog)
    ordered = tuple(layer for _, layer in sorted(layers, key=lambda pair: pair[0]))
    if not ordered:
        catalog.skip(
            "schedule", origin, name, "no rotation of it could be carried (see its shifts)"
        )
        return None
    team = data.get("team_id")
    return Rota(
        origin=origin,
        name=name,
        time_zone=zone,
        layers=ordered,
        overrides=tuple(covers),
        team=team if isinstance(team, str) else None,
    )


def _zone(name: str, where: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportFailed(f"{where}: unknown time zone {name!r}") from None
    return name


def _shift_zone(data: dict[str, Any], where: str, schedule_zone: str) -> str:
    """OnCall: a shift's own time zone, when set, replaces the schedule's."""
    own = data.get("time_zone")
    return (
        schedule_zone
        if own is None
        else _zone(text(data, "time_zone", where), f"{where}.time_zone")
    )


def _covers(shift: Shift, now: datetime, catalog: Catalog) -> list[Cover]:
    """An override shift: its user over [start, start + duration) of wall time; one that has
    already ended is history and left out."""
    start = shift.start
    begin, end = shift.instant(start), shift.instant(start + shift.duration)
    if end <= now:
        return []
    users = shift.people("users") or [g[0] for g in _groups(shift) if g]
    if len(users) != 1:
        catalog.skip(
            "override",
            shift.origin,
            shift.name,
            f"{len(users)} people in one override: Tocsin has one person on call at a time",
        )
        return []
    return [Cover(person=users[0], start=begin, end=end, origin=shift.origin)]


def _layer_or_skip(shift: Shift, now: datetime, catalog: Catalog) -> Layer | None:
    until = shift.wall("until")
    if until is not None and shift.instant(until) <= now:
        return None  # a rotation that has ended (OnCall ends a rotation when it is replaced)
    try:
        layer = _layer(shift)
    except Unfit as unfit:
        catalog.skip("shift", shift.origin, shift.name, str(unfit))
        return None
    if until is not None:
        catalog.differ(
            "shift end",
            shift.origin,
            shift.name,
            f"the rotation ends at {until.isoformat(sep=' ')} ({shift.zone}); Tocsin's "
            "rotation does not end: remove it then",
        )
    begins = shift.wall("rotation_start")
    if begins is not None and shift.instant(begins) > now and begins > shift.start:
        catalog.differ(
            "shift start",
            shift.origin,
            shift.name,
            f"the rotation begins at {begins.isoformat(sep=' ')} ({shift.zone}); Tocsin's "
            "rotation has someone on call before its first hand-off too",
        )
    return layer


def _layer(shift: Shift) -> Layer:
    participants = _participants(shift)
    frequency = shift.data.get("frequency")
    if frequency == "monthly":
        raise Unfit("monthly frequency: months differ in length and Tocsin's turns do not")
    if frequency not in TURNS:
        raise Unfit(f"frequency {frequency!r}: Tocsin takes hourly, daily or weekly turns")
    interval = number(shift.data, "interval", shift.where, default=1)
    if interval != 1:
        raise Unfit(
            f"interval {interval}: OnCall hands over every {frequency} step but repeats each "
            f"user's events every {interval} × users steps; only interval 1 matches Tocsin"
        )
    for key in ("by_month", "by_monthday"):
        if shift.data.get(key):
            raise Unfit(f"{key} limits: Tocsin restricts by weekday and time of day only")
    return Layer(
        origin=shift.origin,
        name=shift.name,
        participants=participants,
        shift=TURNS[str(frequency)],
        start=shift.start,
        time_zone=shift.zone,
        restrictions=_restrictions(shift, str(frequency)),
    )


def _participants(shift: Shift) -> tuple[str, ...]:
    if shift.kind == "single_event":
        raise Unfit(
            "single event: Tocsin's rotations repeat; add it as an override if still to come"
        )
    if shift.kind == "recurrent_event":
        groups = [shift.people("users")]
    elif shift.kind == "rolling_users":
        groups = _groups(shift)
    else:
        raise Unfit(f"shift type {shift.kind!r}")
    if not groups or any(not g for g in groups):
        raise Unfit("rotation has an empty slot: Tocsin's turns always name someone")
    crowded = [g for g in groups if len(g) > 1]
    if crowded:
        raise Unfit(
            f"{len(crowded[0])} people on call at once ({', '.join(crowded[0])}): Tocsin has "
            "one person on call per schedule at a time"
        )
    return tuple(g[0] for g in groups)


def _groups(shift: Shift) -> list[list[str]]:
    """``rolling_users`` in turn order, from ``start_rotation_from_user_index``."""
    where = f"{shift.where}.rolling_users"
    raw = arr(shift.data.get("rolling_users") or [], where)
    groups = [
        [_user(u, f"{where}[{i}][{j}]") for j, u in enumerate(arr(g, f"{where}[{i}]"))]
        for i, g in enumerate(raw)
    ]
    first = number(shift.data, "start_rotation_from_user_index", shift.where, default=0)
    if groups and not 0 <= first < len(groups):
        raise ImportFailed(f"{shift.where}.start_rotation_from_user_index: {first} is out of range")
    return groups[first:] + groups[:first]


def _restrictions(shift: Shift, frequency: str) -> tuple[Restriction, ...]:
    """The shift's events inside each turn as Tocsin windows (none when they fill the turn)."""
    turn, length, start = TURNS[frequency], shift.duration, shift.start
    days = _days(shift)
    if length > turn or (days and length > DAY):
        raise Unfit(f"events of {length} overlap from one {frequency} step to the next")
    if frequency == "hourly":
        if days or length != turn:
            raise Unfit("hourly turns shorter than the hour or on chosen days")
        return ()
    if frequency == "daily":
        if days and set(days) != set(WEEKDAYS):
            raise Unfit(
                "daily turns on chosen days: OnCall hands over on each chosen day only, "
                "Tocsin's turns have one fixed length"
            )
        return () if length == turn else daily_windows(start.time(), length)
    if not days:
        return (
            ()
            if length == turn
            else weekly_windows(WEEKDAYS[start.weekday()], start.time(), length)
        )
    return _weekday_windows(shift, days, start, length)


def _weekday_windows(
    shift: Shift, days: tuple[Weekday, ...], start: datetime, length: timedelta
) -> tuple[Restriction, ...]:
    """A weekly turn with events on ``by_day``: OnCall hands over at ``week_start``, Tocsin at
    the turn's start, so they agree only when no chosen day lies between the two."""
    week_start = ICAL_DAYS.get(str(shift.data.get("week_start", "SU")))
    if week_start is None:
        raise ImportFailed(f"{shift.where}.week_start: not an iCal weekday")
    first = WEEKDAYS[start.weekday()]
    if first not in days:
        raise Unfit(f"the first event ({start:%a}) is not on one of the chosen days")
    origin = WEEKDAYS.index(week_start)
    before = [
        d for d in days if (WEEKDAYS.index(d) - origin) % 7 < (WEEKDAYS.index(first) - origin) % 7
    ]
    if before:
        raise Unfit(
            f"the week starts on {week_start} but the first event is on {first}: OnCall's "
            "hand-off and Tocsin's would fall on different days"
        )
    ends = (datetime.combine(start.date(), start.time()) + length).time()
    return (Restriction(days=days, start=start.time(), end=ends if length < DAY else start.time()),)


def _days(shift: Shift) -> tuple[Weekday, ...]:
    where = f"{shift.where}.by_day"
    raw = arr(shift.data.get("by_day") or [], where)
    days: list[Weekday] = []
    for index, value in enumerate(raw):
        day = ICAL_DAYS.get(value) if isinstance(value, str) else None
        if day is None:
            raise ImportFailed(
                f"{where}[{index}]: expected an iCal weekday (MO…SU), found {value!r}"
            )
        days.append(day)
    return tuple(d for d in WEEKDAYS if d in days)


def _note_shared_levels(
    layers: list[tuple[int, Layer]], origin: str, name: str, catalog: Catalog
) -> None:
    levels: dict[int, list[str]] = {}
    for level, layer in layers:
        levels.setdefault(level, []).append(layer.name)
    for level, names in levels.items():
        if len(names) > 1:
            catalog.differ(
                "layer order",
                origin,
                name,
                f"rotations {', '.join(names)} share level {level}: where they overlap OnCall "
                "puts all of them on call, Tocsin only the last one",
            )
