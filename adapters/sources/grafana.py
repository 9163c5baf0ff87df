"""Grafana unified alerting webhook to `AlertEvent`s.

Grafana's payload is Alertmanager's with extra keys, so each alert goes through
`alertmanager.parse_alert`; on top of that the alert's `dashboardURL`, `panelURL` and
`valueString` become the annotations `dashboard_url`, `panel_url` and `value` when non-empty.
An annotation the rule already defines under one of those names is kept as written. `orgId`,
`state`, `title`, `message`, `values`, `silenceURL`, `imageURL` and unknown keys are ignored.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adapters.sources._common import each_alert, optional_str, require_object
from adapters.sources.alertmanager import parse_alert, truncated_alerts
from bot.alerts.batch import Parsed
from bot.alerts.event import AlertEvent

_EXTRA_ANNOTATIONS = (
    ("dashboardURL", "dashboard_url"),
    ("panelURL", "panel_url"),
    ("valueString", "value"),
)


def parse(payload: Any, source: str) -> Parsed:
    """The alerts of one decoded webhook body. A bad body raises `InputError` naming the field;
    a bad alert is rejected alone, naming its field."""
    body = require_object(payload, "payload")
    group_key = optional_str(body, "groupKey", "")

    def one(alert: dict[str, Any], where: str) -> AlertEvent:
        event = parse_alert(alert, where, source=source, group_key=group_key)
        annotations = dict(event.annotations)
        for key, name in _EXTRA_ANNOTATIONS:
            value = optional_str(alert, key, where)
            if value:
                annotations.setdefault(name, value)
        return replace(event, annotations=annotations)

    parsed = each_alert(body, one)
    parsed.truncated = truncated_alerts(body)
    return parsed
