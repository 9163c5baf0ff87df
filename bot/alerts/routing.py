"""Tiering and routing: labels → tier P0–P3, and labels + tier → the routes that carry it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.alerts.matchers import matches_all
from bot.model import Destination, Tier
from bot.settings.schema import Route, Settings


def tier_for(labels: dict[str, str], settings: Settings) -> Tier:
    """The first tier rule whose matchers all match wins; else the default tier."""
    for rule in settings.tiers.rules:
        if matches_all(rule.matchers, labels):
            return rule.tier
    return settings.tiers.default


@dataclass(frozen=True, slots=True)
class Routing:
    """Where an alert goes: the first matching route names the incident group and policy;
    routes matched through ``continue`` add their destinations."""

    route: Route
    route_name: str
    destinations: tuple[Destination, ...]


def route_for(labels: dict[str, str], tier: Tier, settings: Settings) -> Routing | None:
    first: tuple[Route, str] | None = None
    destinations: list[Destination] = []
    for index, route in enumerate(settings.routes):
        if route.tiers and tier not in route.tiers:
            continue
        if not matches_all(route.matchers, labels):
            continue
        if first is None:
            first = (route, route.name or f"route{index}")
        destinations.extend(d for d in route.destinations if d not in destinations)
        if not route.continue_:
            break
    if first is None:
        if settings.default_route is None:
            return None
        first = (settings.default_route, settings.default_route.name or "default")
        destinations = list(settings.default_route.destinations)
    return Routing(first[0], first[1], tuple(destinations))


def find_route(settings: Settings, name: str) -> Route | None:
    """The route an incident was opened on, by the name `route_for` gave it."""
    for index, route in enumerate(settings.routes):
        if (route.name or f"route{index}") == name:
            return route
    default = settings.default_route
    if default is not None and (default.name or "default") == name:
        return default
    return None


def group_signature(labels: dict[str, str], source_group_key: str, route: Route) -> str:
    """The part of an incident's group key that comes from the alert."""
    if route.source_grouping and source_group_key:
        return source_group_key
    if route.group_by == ("...",):
        return "|".join(f"{k}={labels[k]}" for k in sorted(labels))
    return "|".join(f"{k}={labels.get(k, '')}" for k in route.group_by)


SERVICE_LABELS = ("service", "app", "application", "job")
ENV_LABELS = ("env", "environment", "namespace")


def first_label(labels: dict[str, str], names: tuple[str, ...]) -> str:
    for name in names:
        if labels.get(name):
            return labels[name]
    return ""
