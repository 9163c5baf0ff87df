"""An imported schedule or escalation policy as the YAML body Tocsin reads, or the reasons it
cannot be one. Every body is validated with Tocsin's own settings models before it is offered."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from bot.migrate.catalog import Chain, Cover, Layer, Rota
from bot.migrate.names import Namer, slug
from bot.oncall.model import to_wall
from bot.settings.durations import format_duration
from bot.settings.oncall import WEEKDAYS, EscalationPolicy, Restriction, Schedule

MIN_DELAY = timedelta(seconds=30)
MAX_REPEAT = 10
TARGET_WORDS = {"user": "user", "schedule": "schedule", "team": "group"}


def schedule_body(
    rota: Rota, users: Mapping[str, str], now: datetime
) -> tuple[dict[str, Any] | None, list[str]]:
    """The body of `rota`, and notes on what was left out; None with the reasons when the
    schedule cannot be carried."""
    zone = _zone(rota.time_zone)
    if zone is None:
        return None, [f"unknown time zone {rota.time_zone!r}"]
    if not rota.layers:
        return None, ["it has no rotation Tocsin can carry"]
    problems: list[str] = []
    namer = Namer()
    rotations = []
    for layer in rota.layers:
        rotation = _rotation(layer, rota.time_zone, users, namer, problems)
        if rotation is None:
            return None, problems
        rotations.append(rotation)
    body: dict[str, Any] = {"time_zone": rota.time_zone, "rotations": rotations}
    overrides = [_override(c, users, zone, problems) for c in rota.overrides if c.end > now]
    if any(overrides):
        body["overrides"] = [o for o in overrides if o]
    try:
        Schedule.model_validate(body)
    except ValidationError as exc:
        return None, [f"Tocsin refuses it: {_first(exc)}"]
    return body, problems


def _rotation(
    layer: Layer, default_zone: str, users: Mapping[str, str], namer: Namer, problems: list[str]
) -> dict[str, Any] | None:
    missing = [p for p in layer.participants if p not in users]
    if missing:
        problems.append(f"layer {layer.name!r}: unknown people {', '.join(missing)}")
        return None
    zone_name = layer.time_zone or default_zone
    zone = _zone(zone_name)
    if zone is None:
        problems.append(f"layer {layer.name!r}: unknown time zone {zone_name!r}")
        return None
    start = layer.start if layer.start.tzinfo is None else to_wall(layer.start, zone)
    out: dict[str, Any] = {
        "name": namer.claim(slug(layer.name, layer.origin or "layer")),
        "participants": [users[p] for p in layer.participants],
        "shift": format_duration(layer.shift),
        "start": start.isoformat(),
    }
    if zone_name != default_zone:
        out["time_zone"] = zone_name
    if layer.restrictions:
        out["restrictions"] = restriction_bodies(layer.restrictions)
    return out


def restriction_bodies(
    restrictions: tuple[Restriction, ...], *, every_day: bool = False
) -> list[dict[str, Any]]:
    """Windows with the same hours share one entry listing their days, in week order (all
    seven are left unsaid unless `every_day`)."""
    hours: dict[tuple[str, str], set[str]] = {}
    for rule in restrictions:
        key = (rule.start.strftime("%H:%M"), rule.end.strftime("%H:%M"))
        hours.setdefault(key, set()).update(rule.days)
    out = []
    for (start, end), days in hours.items():
        entry: dict[str, Any] = {"start": start, "end": end}
        if every_day or len(days) < len(WEEKDAYS):
            entry = {"days": [d for d in WEEKDAYS if d in days], **entry}
        out.append(entry)
    return out


def _override(
    cover: Cover, users: Mapping[str, str], zone: ZoneInfo, problems: list[str]
) -> dict[str, Any]:
    if cover.person not in users:
        problems.append(f"an override by an unknown person ({cover.person}) was left out")
        return {}
    return {
        "user": users[cover.person],
        "start": cover.start.astimezone(zone).isoformat(),
        "end": cover.end.astimezone(zone).isoformat(),
    }


def policy_body(
    chain: Chain, refs: Mapping[str, Mapping[str, str]]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The body of `chain` and notes on what changed; None with the reasons when no step is
    left. A step whose every target is gone is dropped and its wait added to the step before."""
    problems: list[str] = []
    steps: list[dict[str, Any]] = []
    carried = timedelta(0)
    for number, step in enumerate(chain.steps, 1):
        targets = []
        for target in step.targets:
            ref = refs.get(target.kind, {}).get(target.origin)
            if ref is None:
                problems.append(
                    f"step {number}: the {target.kind} {target.origin} was not imported"
                    " and is left out"
                )
            else:
                targets.append(f"{TARGET_WORDS[target.kind]}:{ref}")
        if not targets:
            problems.append(f"step {number}: nobody left to page, so the step is dropped")
            if steps:
                steps[-1]["_wait"] += step.delay
            else:
                carried += step.delay
            continue
        entry: dict[str, Any] = {"targets": targets, "_wait": step.delay + carried}
        carried = timedelta(0)
        if step.round_robin:
            entry["round_robin"] = True
        steps.append(entry)
    if not steps:
        return None, problems or ["it has no steps"]
    for number, entry in enumerate(steps, 1):
        wait = entry.pop("_wait")
        if wait < MIN_DELAY:
            problems.append(
                f"step {number}: waited {format_duration(wait)}; Tocsin waits at least "
                f"{format_duration(MIN_DELAY)} before the next step"
            )
            wait = MIN_DELAY
        entry["delay"] = format_duration(wait)
    body: dict[str, Any] = {"steps": steps, "repeat": min(chain.repeat, MAX_REPEAT)}
    if chain.repeat > MAX_REPEAT:
        problems.append(f"repeated {chain.repeat} times; Tocsin repeats at most {MAX_REPEAT}")
    try:
        EscalationPolicy.model_validate(body)
    except ValidationError as exc:
        return None, [f"Tocsin refuses it: {_first(exc)}"]
    return body, problems


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _first(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {str(err['msg']).removeprefix('Value error, ')}"
