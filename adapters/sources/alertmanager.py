"""Prometheus Alertmanager webhook (payload version "4") to `AlertEvent`s.

Only the fields Tocsin uses are read: `groupKey` and, per alert, `status`, `labels`,
`annotations`, `startsAt`, `endsAt`, `generatorURL` and `fingerprint`. Everything else
(`version`, `commonLabels`, and keys newer Alertmanagers add) is ignored, so a
payload is judged by the shape of what is read rather than by its version string.
`truncatedAlerts` (alerts Alertmanager left out past the receiver's `max_alerts`) is reported.
`externalURL` (Alertmanager's own address) is kept as each alert's annotation
``alertmanager_url``, unless the rule defines one, so a card can link to a new silence.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adapters.sources._common import (
    each_alert,
    join,
    optional_str,
    parse_status,
    parse_time,
    require_object,
    string_map,
)
from bot.alerts.batch import Parsed
from bot.alerts.event import AlertEvent, label_fingerprint


def parse(payload: Any, source: str) -> Parsed:
    """The alerts of one decoded webhook body. A bad body raises `InputError` naming the field;
    a bad alert is rejected alone, naming its field."""
    body = require_object(payload, "payload")
    group_key = optional_str(body, "groupKey", "")
    external = optional_str(body, "externalURL", "")

    def one(alert: dict[str, Any], where: str) -> AlertEvent:
        event = parse_alert(alert, where, source=source, group_key=group_key)
        if not external or "alertmanager_url" in event.annotations:
            return event
        return replace(event, annotations={**event.annotations, "alertmanager_url": external})

    parsed = each_alert(body, one)
    parsed.truncated = truncated_alerts(body)
    return parsed


def truncated_alerts(body: dict[str, Any]) -> int:
    """How many alerts the sender left out (`max_alerts` in Alertmanager's receiver)."""
    value = body.get("truncatedAlerts")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def parse_alert(alert: dict[str, Any], where: str, *, source: str, group_key: str) -> AlertEvent:
    """One entry of `alerts[]`, found at `where`. Grafana's entries share this shape."""
    labels = string_map(alert.get("labels"), join(where, "labels"), required=True)
    return AlertEvent(
        source=source,
        fingerprint=optional_str(alert, "fingerprint", where) or label_fingerprint(labels),
        status=parse_status(alert.get("status"), join(where, "status")),
        labels=labels,
        annotations=string_map(alert.get("annotations"), join(where, "annotations")),
        starts_at=parse_time(alert.get("startsAt"), join(where, "startsAt")),
        ends_at=parse_time(alert.get("endsAt"), join(where, "endsAt")),
        generator_url=optional_str(alert, "generatorURL", where),
        group_key=group_key,
    )
