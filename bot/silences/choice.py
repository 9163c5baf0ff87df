"""Which matchers silence an incident's alerts in Alertmanager, and nothing else.

The group's common labels make one short silence that also catches the group's next alert,
but only when they are *exact*: no other alert Tocsin holds from that source, still firing,
carries them too (silencing a neighbour's page by accident is worse than a long list). Else
each alert gets its own silence with all its labels, at most `MAX_SILENCES` of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.ports.silences import SilenceMatcher

MAX_SILENCES = 50
"""Silences made for one incident at most, one per alert: beyond, the card says how many."""

Labels = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Choice:
    scope: str
    """``group``: one silence of the common labels; ``alert``: one per alert."""
    silences: tuple[tuple[SilenceMatcher, ...], ...]
    total: int
    """Alerts the choice was made for (more than `silences` when capped)."""


def common_labels(targets: Sequence[Labels]) -> dict[str, str]:
    """The labels every one of `targets` carries with the same (non-empty) value."""
    if not targets:
        return {}
    first, *rest = targets
    return {
        name: value
        for name, value in first.items()
        if value and all(other.get(name) == value for other in rest)
    }


def matches(labels: Labels, wanted: Mapping[str, str]) -> bool:
    return all(labels.get(name) == value for name, value in wanted.items())


def equality(labels: Mapping[str, str]) -> tuple[SilenceMatcher, ...]:
    """Equality matchers for `labels`, in name order (a stable, comparable form)."""
    return tuple(SilenceMatcher(name, value) for name, value in sorted(labels.items()) if value)


def choose(targets: Sequence[Labels], others: Iterable[Labels]) -> Choice | None:
    """The silences for the alerts `targets`, given `others`: the labels of every other alert
    of the same source that is not resolved. None when there is nothing to silence."""
    if not targets:
        return None
    common = common_labels(targets)
    if common and not any(matches(labels, common) for labels in others):
        return Choice("group", (equality(common),), len(targets))
    distinct = sorted(
        {equality(labels) for labels in targets if any(labels.values())},
        key=lambda matchers: [(m.name, m.value) for m in matchers],
    )
    return Choice("alert", tuple(distinct[:MAX_SILENCES]), len(distinct))
