"""PagerDuty schedules: ``GET /schedules`` for the list, ``GET /schedules/{id}`` for each one's
layers, ``GET /schedules/{id}/overrides`` for what is still to come, and the same
``GET /schedules/{id}`` with ``since``/``until`` for PagerDuty's own final schedule.

PagerDuty facts this relies on: a schedule has one time zone, and its layers' hand-offs and
restrictions are wall times in it (a weekly 09:00 hand-off stays at 09:00 across a
daylight-saving change); the API lists ``schedule_layers`` highest priority first (the reverse
of the web app's Layer 1, Layer 2…, where the later layer wins), so they are reversed into
Tocsin's lowest-first order."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.migrate.pagerduty.api import item, listing, reference
from bot.migrate.catalog import Catalog, Cover, Layer, Rota, Shift, daily_windows, weekly_windows
from bot.migrate.reader import ImportFailed, Reader
from bot.migrate.shape import arr, instant, number, obj, text
from bot.settings.oncall import WEEKDAYS, Restriction

OVERRIDE_HORIZON = timedelta(days=365)
"""Overrides starting up to this long after the import are read."""
MIN_TURN = timedelta(minutes=15)


class _Unsupported(Exception):
    """A layer Tocsin cannot carry; the message is the reason shown to the user."""


async def read_schedules(reader: Reader, catalog: Catalog, now: datetime) -> None:
    for index, listed in enumerate(await listing(reader, "/schedules", "schedules")):
        origin = text(listed, "id", f"/schedules: schedules[{index}]")
        path = f"/schedules/{origin}"
        detail = await item(reader, path, "schedule")
        rota = _rota(detail, origin, f"{path}: schedule", now, catalog)
        if rota is not None:
            overrides = await _overrides(reader, path, now)
            catalog.schedules.append(replace(rota, overrides=overrides))


def _rota(
    detail: dict[str, Any], origin: str, where: str, now: datetime, catalog: Catalog
) -> Rota | None:
    name = text(detail, "name", where)
    zone = text(detail, "time_zone", where)
    if _zone(zone) is None:
        catalog.skip("schedule", origin, name, f"unknown time zone {zone!r}")
        return None
    entries = arr(detail.get("schedule_layers"), f"{where}.schedule_layers")
    layers: list[Layer] = []
    for index in reversed(range(len(entries))):
        spot = f"{where}.schedule_layers[{index}]"
        layer = _layer(obj(entries[index], spot), spot, name, zone, now, catalog)
        if layer is not None:
            layers.append(layer)
    if not layers:
        catalog.skip("schedule", origin, name, "none of its layers can be carried (see above)")
        return None
    teams = arr(detail.get("teams") or [], f"{where}.teams")
    team = reference(teams[0], f"{where}.teams[0]") if teams else None
    ical = text(detail, "http_cal_url", where, default="") or None
    return Rota(origin, name, zone, tuple(layers), (), team, ical)


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _layer(
    entry: dict[str, Any], where: str, schedule: str, zone: str, now: datetime, catalog: Catalog
) -> Layer | None:
    """One layer, or None (and the reason in `catalog.skipped`) when it cannot be carried."""
    origin = text(entry, "id", where)
    name = text(entry, "name", where, default=origin)
    label = f"{schedule} / {name}"
    ends = _instant_or_none(entry, "end", where)
    if ends is not None and ends <= now:
        catalog.skip(
            "schedule layer",
            origin,
            label,
            f"it ended at {ends.isoformat()}, before the import (history only)",
        )
        return None
    try:
        layer = _carried(entry, where, name, zone, catalog)
    except _Unsupported as exc:
        catalog.skip("schedule layer", origin, label, str(exc))
        return None
    begins = instant(entry.get("start"), f"{where}.start")
    if begins > now:
        catalog.differ(
            "schedule layer",
            origin,
            label,
            f"PagerDuty starts it at {begins.isoformat()}; Tocsin applies"
            " it from the import on: edit the file at that time if it matters",
        )
    if ends is not None:
        catalog.differ(
            "schedule layer",
            origin,
            label,
            f"PagerDuty ends it at {ends.isoformat()}; Tocsin rotations do"
            " not end: remove it from the file then",
        )
    return layer


def _carried(entry: dict[str, Any], where: str, name: str, zone: str, catalog: Catalog) -> Layer:
    users = arr(entry.get("users"), f"{where}.users")
    people = tuple(
        reference(obj(u, f"{where}.users[{i}]").get("user"), f"{where}.users[{i}].user")
        for i, u in enumerate(users)
    )
    if not people:
        raise _Unsupported("the layer has no users: Tocsin rotations need at least one person")
    unknown = [p for p in people if catalog.person(p) is None]
    if unknown:
        raise _Unsupported(
            f"it names users PagerDuty does not list (deleted?): {', '.join(unknown)}"
        )
    turn = timedelta(seconds=number(entry, "rotation_turn_length_seconds", where))
    if turn < MIN_TURN:
        raise _Unsupported(f"turns of {turn}: Tocsin turns last at least 15 minutes")
    virtual = instant(entry.get("rotation_virtual_start"), f"{where}.rotation_virtual_start")
    restrictions = arr(entry.get("restrictions") or [], f"{where}.restrictions")
    windows: list[Restriction] = []
    for index, rule in enumerate(restrictions):
        windows += _windows(
            obj(rule, f"{where}.restrictions[{index}]"), f"{where}.restrictions[{index}]"
        )
    return Layer(
        origin=text(entry, "id", where),
        name=name,
        participants=people,
        shift=turn,
        start=virtual.astimezone(ZoneInfo(zone)).replace(tzinfo=None),
        restrictions=tuple(windows),
    )


def _windows(rule: dict[str, Any], where: str) -> tuple[Restriction, ...]:
    """A PagerDuty restriction (wall time in the schedule's zone) as Tocsin windows."""
    kind = text(rule, "type", where)
    opens = _clock(text(rule, "start_time_of_day", where), f"{where}.start_time_of_day")
    length = timedelta(seconds=number(rule, "duration_seconds", where))
    try:
        if kind == "daily_restriction":
            return daily_windows(opens, length)
        if kind == "weekly_restriction":
            day = number(rule, "start_day_of_week", where)
            if not 1 <= day <= 7:
                raise ImportFailed(
                    f"{where}.start_day_of_week: expected 1 (Monday) to 7, found {day}"
                )
            return weekly_windows(WEEKDAYS[day - 1], opens, length)
    except ValueError as exc:
        raise _Unsupported(f"restriction {kind}: {exc}") from None
    raise _Unsupported(f"restriction kind {kind!r}: Tocsin knows daily and weekly windows")


def _clock(value: str, where: str) -> time:
    try:
        return time.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        raise ImportFailed(f"{where}: not a time of day (HH:MM:SS): {value!r}") from None


def _instant_or_none(entry: dict[str, Any], key: str, where: str) -> datetime | None:
    value = entry.get(key)
    return None if value is None else instant(value, f"{where}.{key}")


async def _overrides(reader: Reader, path: str, now: datetime) -> tuple[Cover, ...]:
    """The overrides not yet over at `now` (a folder's file may hold past ones too)."""
    where = f"{path}/overrides"
    params = {"since": now.isoformat(), "until": (now + OVERRIDE_HORIZON).isoformat()}
    answer = obj(await reader.get(where, params), where)
    covers = []
    for index, entry in enumerate(arr(answer.get("overrides"), f"{where}: overrides")):
        spot = f"{where}: overrides[{index}]"
        found = obj(entry, spot)
        start = instant(found.get("start"), f"{spot}.start")
        end = instant(found.get("end"), f"{spot}.end")
        if end > now:
            person = reference(found.get("user"), f"{spot}.user")
            covers.append(Cover(person, start, end, text(found, "id", spot, default="")))
    return tuple(covers)


async def final_schedule(
    reader: Reader, schedule: str, start: datetime, end: datetime
) -> list[Shift]:
    """PagerDuty's rendered final schedule (layers and overrides) over [start, end), in UTC."""
    path = f"/schedules/{schedule}"
    params = {"since": start.isoformat(), "until": end.isoformat(), "time_zone": "UTC"}
    found = await item(reader, path, "schedule", params)
    final = obj(found.get("final_schedule"), f"{path}: schedule.final_schedule")
    where = f"{path}: schedule.final_schedule.rendered_schedule_entries"
    shifts = []
    for index, entry in enumerate(arr(final.get("rendered_schedule_entries"), where)):
        spot = f"{where}[{index}]"
        found_entry = obj(entry, spot)
        lo = max(instant(found_entry.get("start"), f"{spot}.start"), start)
        hi = min(instant(found_entry.get("end"), f"{spot}.end"), end)
        if lo < hi:
            shifts.append(Shift(lo, hi, reference(found_entry.get("user"), f"{spot}.user")))
    return sorted(shifts, key=lambda s: s.start)
