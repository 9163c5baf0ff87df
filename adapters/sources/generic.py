"""Tocsin's own generic JSON alert format to `AlertEvent`s (documented in docs/alerts-generic.md).

A body is one alert object or `{"alerts": [...]}`. The convenience fields `name`, `severity`,
`service` and `environment` become the labels `alertname`, `severity`, `service` and `env`, and
`summary` and `description` become annotations; giving both a field and the same label or
annotation with a different value is an error rather than a silent choice. Unknown keys are
ignored.
"""

from __future__ import annotations

from typing import Any

from adapters.sources._common import (
    each_alert,
    join,
    optional_str,
    parse_status,
    parse_time,
    require_object,
    scalar_string,
    string_map,
)
from bot.alerts.batch import Parsed
from bot.alerts.event import AlertEvent, AlertStatus, label_fingerprint
from bot.errors import InputError

_LABEL_FIELDS = (
    ("name", "alertname"),
    ("severity", "severity"),
    ("service", "service"),
    ("environment", "env"),
)
_ANNOTATION_FIELDS = (("summary", "summary"), ("description", "description"))


def parse(payload: Any, source: str) -> Parsed:
    """The alerts of one decoded body. A bad body (or a bad single alert) raises `InputError`
    naming the field; a bad alert of a batch is rejected alone, naming its field."""
    body = require_object(payload, "payload")
    if "alerts" in body:
        return each_alert(body, lambda alert, where: _alert(alert, where, source))
    return Parsed([_alert(body, "", source)])


def _alert(alert: dict[str, Any], where: str, source: str) -> AlertEvent:
    if alert.get("name") in (None, ""):
        raise InputError(f"{join(where, 'name')}: required (the alert's name)")
    labels = string_map(alert.get("labels"), join(where, "labels"))
    _merge(alert, where, labels, "labels", _LABEL_FIELDS)
    annotations = string_map(alert.get("annotations"), join(where, "annotations"))
    _merge(alert, where, annotations, "annotations", _ANNOTATION_FIELDS)
    status = AlertStatus.FIRING
    if alert.get("status") is not None:
        status = parse_status(alert["status"], join(where, "status"))
    return AlertEvent(
        source=source,
        fingerprint=optional_str(alert, "fingerprint", where) or label_fingerprint(labels),
        status=status,
        labels=labels,
        annotations=annotations,
        starts_at=parse_time(alert.get("starts_at"), join(where, "starts_at")),
        ends_at=parse_time(alert.get("ends_at"), join(where, "ends_at")),
        generator_url=optional_str(alert, "url", where),
        group_key=optional_str(alert, "group_key", where),
    )


def _merge(
    alert: dict[str, Any],
    where: str,
    into: dict[str, str],
    map_name: str,
    fields: tuple[tuple[str, str], ...],
) -> None:
    """Copy each present convenience field of `alert` into `into` under its mapped key."""
    for field, key in fields:
        if alert.get(field) is None:
            continue
        value = scalar_string(alert[field], join(where, field))
        existing = into.get(key)
        if existing is not None and existing != value:
            raise InputError(
                f"{join(where, field)}: {value!r} conflicts with {map_name}.{key}={existing!r}"
            )
        into[key] = value
