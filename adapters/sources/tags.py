"""Vendor tags as labels, and the `service`, `env` and `severity` labels Tocsin routes on.

Every vendor source keeps the sender's tags as labels so routes and silences can match them.
A tag's name becomes a label name by `label_name` (``service.name`` → ``service_name``,
``kubernetes/namespace`` → ``kubernetes_namespace``). Then, when an alert has no `service` or
`env` label of its own, the first tag named in the source's `service_from` / `env_from` that
holds a value gives it one (`bot.alerts.tagged`, which holds the default names).

Severity is normalised to one of `SEVERITIES` (the words the default tier rules map to P0–P3);
each parser maps its vendor's levels by a table its documentation shows, and keeps the vendor's
own word in the label ``<kind>_severity`` for rules that want it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

CRITICAL, HIGH, WARNING, INFO = "critical", "high", "warning", "info"
SEVERITIES = (CRITICAL, HIGH, WARNING, INFO)
"""Normalised severities: the default tier rules give P0, P1, P2 and P3."""

_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")


def label_name(tag: str) -> str:
    """A tag's name as a label name: runs of other characters become one ``_``; a leading
    digit gets a ``_`` before it; an empty name is ``_``."""
    name = _NOT_NAME.sub("_", tag.strip()).strip("_") or "_"
    return f"_{name}" if name[0].isdigit() else name


def pairs(tags: Iterable[str], separators: str = ":=") -> dict[str, str]:
    """Tags written ``key:value`` or ``key=value`` (Datadog's ``env:prod``, Nightingale's
    ``ident=web01``) as labels. A tag without a separator becomes a label with an empty
    value; a repeated key keeps its first value."""
    labels: dict[str, str] = {}
    for tag in tags:
        cut = min((i for i in (tag.find(s) for s in separators) if i > 0), default=-1)
        key, value = (tag[:cut], tag[cut + 1 :]) if cut > 0 else (tag, "")
        labels.setdefault(label_name(key), value.strip())
    return labels


def as_labels(tags: Mapping[str, str]) -> dict[str, str]:
    """A tag map as labels (names made label names; a clash keeps the first)."""
    labels: dict[str, str] = {}
    for key, value in tags.items():
        labels.setdefault(label_name(key), value)
    return labels
