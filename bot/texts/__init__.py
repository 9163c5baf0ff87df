"""The text catalogue, merged from one module per area. Each maps key -> {"en": …, "zh": …}.

A key defined in two modules is refused when the catalogue is built (the import fails, naming the
key and both modules), so one module can never silently override another's text."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

from bot.texts import (
    alerts,
    canary,
    console,
    core,
    delivery,
    deploy,
    drills,
    grammar,
    groups,
    heartbeats,
    help,
    maintenance,
    oncall,
    phones,
    reports,
    review,
    silences,
    status,
)

MODULES: tuple[ModuleType, ...] = (
    core,
    grammar,
    oncall,
    deploy,
    drills,
    canary,
    status,
    alerts,
    review,
    help,
    console,
    silences,
    heartbeats,
    maintenance,
    phones,
    delivery,
    reports,
    groups,
)


def merge(parts: Mapping[str, Mapping[str, dict[str, str]]]) -> dict[str, dict[str, str]]:
    """One catalogue from each module's texts (by module name); a duplicate key raises
    ValueError."""
    merged: dict[str, dict[str, str]] = {}
    owner: dict[str, str] = {}
    for name, texts in parts.items():
        for key, entry in texts.items():
            if key in merged:
                raise ValueError(f"text {key!r} is defined in both {owner[key]} and {name}")
            merged[key], owner[key] = entry, name
    return merged


CATALOGUE: dict[str, dict[str, str]] = merge({m.__name__: m.TEXTS for m in MODULES})
