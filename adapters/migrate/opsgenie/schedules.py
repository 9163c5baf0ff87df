"""Schedules (`/v2/schedules?expand=rotation`) and their overrides
(`/v2/schedules/{id}/overrides`).

Opsgenie puts the participant of EVERY rotation on call at once (its final timeline is the
union of the rotations); a Tocsin schedule has one person at a time, the later layer winning.
Rotations whose windows never meet carry over exactly; where two can meet, the schedule is
carried with the later rotation winning and the difference is reported."""

from __future__ import annotations

from datetime import datetime
from itertools import combinations
from typing import Any

from adapters.migrate.opsgenie.api import data
from adapters.migrate.opsgenie.people import person_id
from adapters.migrate.opsgenie.rotations import Unfit, describe, end_date, layer, overlap
from bot.migrate.catalog import Catalog, Cover, Layer, Rota
from bot.migrate.reader import Reader
from bot.migrate.shape import arr, instant, obj, text


async def read_schedules(reader: Reader, catalog: Catalog, now: datetime) -> None:
    found = arr(await data(reader, "/v2/schedules", {"expand": "rotation"}), "/v2/schedules.data")
    for i, raw in enumerate(found):
        where = f"/v2/schedules data[{i}]"
        schedule = obj(raw, where)
        rota = _rota(schedule, catalog, now, where)
        if rota is None:
            continue
        covers = await _overrides(reader, catalog, rota, now)
        catalog.schedules.append(
            Rota(
                origin=rota.origin,
                name=rota.name,
                time_zone=rota.time_zone,
                layers=rota.layers,
                overrides=covers,
                team=rota.team,
            )
        )


def _rota(schedule: dict[str, Any], catalog: Catalog, now: datetime, where: str) -> Rota | None:
    origin, name = text(schedule, "id", where), text(schedule, "name", where)
    if schedule.get("enabled") is False:
        catalog.skip("schedule", origin, name, "the schedule is disabled in Opsgenie")
        return None
    zone = text(schedule, "timezone", where)
    layers = _layers(schedule, zone, catalog, now, where)
    if not layers:
        catalog.skip("schedule", origin, name, "none of its rotations can be carried over")
        return None
    _report_overlaps(origin, name, layers, catalog)
    team = schedule.get("ownerTeam")
    return Rota(
        origin=origin,
        name=name,
        time_zone=zone,
        layers=tuple(layers),
        team=text(obj(team, f"{where}.ownerTeam"), "id", f"{where}.ownerTeam") if team else None,
    )


def _layers(
    schedule: dict[str, Any], zone: str, catalog: Catalog, now: datetime, where: str
) -> list[Layer]:
    layers: list[Layer] = []
    for i, raw in enumerate(arr(schedule.get("rotations", []), f"{where}.rotations")):
        here = f"{where}.rotations[{i}]"
        rotation = obj(raw, here)
        origin = text(rotation, "id", here)
        name = text(rotation, "name", here, default=origin)
        end = end_date(rotation, here)
        if end is not None and end <= now:
            continue  # over: it has no one on call any more
        try:
            layers.append(layer(rotation, zone, catalog, here))
        except Unfit as unfit:
            catalog.skip("schedule rotation", origin, name, str(unfit))
            continue
        if end is not None:
            catalog.differ(
                "rotation end",
                origin,
                name,
                f"the rotation ends at {end.isoformat()}: Tocsin rotations do not end, "
                "remove it from the schedule by then",
            )
    return layers


def _report_overlaps(origin: str, name: str, layers: list[Layer], catalog: Catalog) -> None:
    for lower, upper in combinations(layers, 2):
        met = overlap(lower, upper)
        if met is not None:
            catalog.differ(
                "schedule rotations",
                origin,
                name,
                f"rotations {lower.name!r} and {upper.name!r} are both on call at times "
                f"(e.g. {describe(met)}): Opsgenie pages everyone on call in every rotation, "
                f"a Tocsin schedule has one person at a time, so there {upper.name!r} wins",
            )


async def _overrides(
    reader: Reader, catalog: Catalog, rota: Rota, now: datetime
) -> tuple[Cover, ...]:
    path = f"/v2/schedules/{rota.origin}/overrides"
    covers: list[Cover] = []
    for i, raw in enumerate(arr(await data(reader, path), f"{path}.data")):
        where = f"{path} data[{i}]"
        item = obj(raw, where)
        if instant(item.get("endDate"), f"{where}.endDate") <= now:
            continue  # over before the import: left out
        cover = _cover(item, rota, catalog, where)
        if cover is not None:
            covers.append(cover)
            _report_partial(item, rota, catalog, cover.origin, where)
    return tuple(covers)


def _cover(item: dict[str, Any], rota: Rota, catalog: Catalog, where: str) -> Cover | None:
    alias = text(item, "alias", where, default="")
    user = obj(item.get("user"), f"{where}.user")
    kind = text(user, "type", f"{where}.user", default="user")
    if kind != "user":
        catalog.skip("override", alias, rota.name, f"an override by a {kind}: Tocsin's are people")
        return None
    return Cover(
        person=person_id(user, catalog, f"{where}.user"),
        start=instant(item.get("startDate"), f"{where}.startDate"),
        end=instant(item.get("endDate"), f"{where}.endDate"),
        origin=alias,
    )


def _report_partial(
    item: dict[str, Any], rota: Rota, catalog: Catalog, alias: str, where: str
) -> None:
    """An override limited to some rotations covers the whole schedule in Tocsin."""
    named = arr(item.get("rotations") or [], f"{where}.rotations")
    ids = {text(obj(r, f"{where}.rotations[{i}]"), "id", where) for i, r in enumerate(named)}
    if ids and not {layer.origin for layer in rota.layers} <= ids:
        catalog.differ(
            "override",
            alias,
            rota.name,
            "the override applies to some of the schedule's rotations only: "
            "in Tocsin it covers the whole schedule",
        )
