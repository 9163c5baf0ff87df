"""Fitting any alert into the store's columns without losing what tells alerts apart.

Senders put what they like into labels: a 514-character Alertmanager group key, a 200-character
namespace, a NUL byte in a summary. PostgreSQL refuses a value longer than its column and any
NUL in text, and one refused row would fail the whole request it came in. So values bound for
keyed columns are cut to a *bounded form*, a prefix plus a hash of the whole value, which stays
unique and is used the same way everywhere (de-duplication, grouping); the whole value is still
in the alert's `labels` and `annotations`. NUL becomes U+FFFD, the replacement character.
"""

from __future__ import annotations

from dataclasses import replace

from bot.alerts.event import AlertEvent
from bot.store.keys import bounded

FINGERPRINT = 128
GROUP_KEY = 512
SERVICE = 128
ENVIRONMENT = 64
ROUTE = 128
NAME = 256
TITLE = 512
NUL = "\x00"


def clean(value: str) -> str:
    """`value` with NUL characters replaced (PostgreSQL stores no NUL in text)."""
    return value.replace(NUL, "\ufffd") if NUL in value else value


def _clean_map(values: dict[str, str]) -> dict[str, str]:
    return {clean(k): clean(v) for k, v in values.items()}


def _has_nul(values: dict[str, str]) -> bool:
    return any(NUL in k or NUL in v for k, v in values.items())


def fit(event: AlertEvent) -> AlertEvent:
    """`event` ready for the store: NUL replaced everywhere, the fingerprint bounded. Costs a
    few comparisons for the usual alert, which needs neither."""
    labels, annotations = event.labels, event.annotations
    dirty = (
        _has_nul(labels)
        or _has_nul(annotations)
        or NUL in event.fingerprint
        or NUL in event.group_key
        or NUL in event.generator_url
    )
    if not dirty and len(event.fingerprint) <= FINGERPRINT:
        return event
    if dirty:
        labels, annotations = _clean_map(labels), _clean_map(annotations)
    return replace(
        event,
        fingerprint=bounded(clean(event.fingerprint), FINGERPRINT),
        labels=labels,
        annotations=annotations,
        group_key=clean(event.group_key),
        generator_url=clean(event.generator_url),
    )
