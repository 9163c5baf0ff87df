"""CloudMonitor threshold alarm callbacks (阈值报警回调) to `AlertEvent`s.

One alarm per request, every field a string. ``alertState`` ``ALERT`` (``ALARM`` in older
callbacks) and ``INSUFFICIENT_DATA`` (sent only by rules told to alert on missing data) fire,
``OK`` resolves. The level is ``triggerLevel``; a recovery carries ``OK`` there and the level it
recovers from in ``preTriggerLevel``, so the severity stays the same on both. ``dimensions``,
the monitored object (``{userId=1, instanceId=i-x}``, or JSON in older callbacks), becomes
labels and, with ``ruleId``, the fingerprint. CloudMonitor writes ``null`` for fields it has no
value for; those count as absent. Values that change between deliveries (``curValue``,
``lastTime``, ``transId``) are annotations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from adapters.sources import tags
from adapters.sources._common import json_type, scalar_string, unix_time
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import InputError

LEVELS: dict[str, str] = {"CRITICAL": tags.CRITICAL, "WARN": tags.WARNING, "INFO": tags.INFO}
"""CloudMonitor's levels to Tocsin's severities; a callback with neither level known is
`DEFAULT`."""
DEFAULT = tags.WARNING
STATES: dict[str, AlertStatus] = {
    "ALERT": AlertStatus.FIRING,
    "ALARM": AlertStatus.FIRING,
    "INSUFFICIENT_DATA": AlertStatus.FIRING,
    "OK": AlertStatus.RESOLVED,
}
_MILLISECONDS = 10**11
"""Timestamps above this are milliseconds (CloudMonitor sends either)."""
_LABELS = (
    ("aliyun_rule_id", "ruleId"),
    ("aliyun_namespace", "namespace"),
    ("aliyun_metric", "metricName"),
    ("aliyun_instance", "instanceName"),
    ("aliyun_region", "regionId"),
    ("aliyun_group", "productGroupName"),
)
_LEVEL_FIELDS = ("triggerLevel", "preTriggerLevel")
_ANNOTATIONS = (
    ("value", "curValue"),
    ("unit", "unit"),
    ("expression", "expression"),
    ("duration", "lastTime"),
    ("aliyun_dimensions", "dimensions"),
    ("aliyun_trans_id", "transId"),
)
_FIRST = ("alertName", "alertState", *_LEVEL_FIELDS, "timestamp", "regionName")
_READ = tuple(dict.fromkeys((*_FIRST, *(key for _, key in (*_LABELS, *_ANNOTATIONS)))))
"""The fields read, in the order they are checked; others (CloudMonitor adds fields now and
then) are ignored."""


def parse(body: dict[str, Any], source: str) -> AlertEvent:
    """The alarm of one callback; a missing or malformed field raises `InputError` naming it."""
    fields = {key: _text(body, key) for key in _READ if key in body}
    name = fields.get("alertName", "")
    if not name:
        raise InputError("alertName: required")
    state = fields.get("alertState", "").upper()
    if state not in STATES:
        raise InputError(
            f"alertState: must be ALERT, OK or INSUFFICIENT_DATA, got {state or 'nothing'!r}"
        )
    status = STATES[state]
    dimensions = _dimensions(body.get("dimensions"))
    level = next((fields[k] for k in _LEVEL_FIELDS if fields.get(k) in LEVELS), "")
    labels = {**tags.as_labels(dimensions), "alertname": name}
    labels["severity"] = LEVELS.get(level, DEFAULT)
    labels["aliyun_product"] = "cloudmonitor"
    if level:
        labels["aliyun_severity"] = level
    labels.update((label, fields[key]) for label, key in _LABELS if fields.get(key))
    moment = _moment(fields.get("timestamp", ""))
    return AlertEvent(
        source=source,
        fingerprint=f"aliyun:cms:{fields.get('ruleId') or name}:{_identity(dimensions, fields)}",
        status=status,
        labels=labels,
        annotations=_annotations(fields, state),
        starts_at=moment if status is AlertStatus.FIRING else None,
        ends_at=moment if status is AlertStatus.RESOLVED else None,
    )


def _text(body: dict[str, Any], key: str) -> str:
    """A field as text; CloudMonitor's ``null`` and JSON null are empty."""
    value = body[key]
    if value is None or (key == "dimensions" and not isinstance(value, str)):
        return ""
    text = scalar_string(value, key).strip()
    return "" if text == "null" else text


def _dimensions(value: Any) -> dict[str, str]:
    """The monitored object's dimensions: ``{k=v, k=v}``, or JSON (an object, or an array of
    objects, as a string or as JSON itself)."""
    if value is None or value == "null":
        return {}
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith(("[", '{"')):
            return _java_map(text)
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise InputError(f"dimensions: not valid JSON: {text[:80]!r}") from None
    items = value if isinstance(value, list) else [value]
    found: dict[str, str] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"dimensions: must be an object of strings, got {json_type(item)}")
        for key, part in item.items():
            found.setdefault(key, scalar_string(part, f"dimensions[{index}].{key}"))
    return found


def _java_map(text: str) -> dict[str, str]:
    """``{userId=1, instanceId=i-x}`` (how CloudMonitor writes a map) as a dict."""
    found: dict[str, str] = {}
    for part in text.strip("{}").split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            found.setdefault(key.strip(), value.strip())
    return found


def _identity(dimensions: dict[str, str], fields: dict[str, str]) -> str:
    """What tells two objects of one rule apart: the dimensions, in a stable order."""
    if dimensions:
        return ",".join(f"{key}={dimensions[key]}" for key in sorted(dimensions))
    return fields.get("dimensions") or fields.get("instanceName", "")


def _moment(text: str) -> datetime | None:
    """Unix seconds or milliseconds as an aware UTC datetime."""
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 15:
        raise InputError(f"timestamp: must be unix seconds or milliseconds, got {text!r}")
    number = int(text)
    return unix_time(number, "timestamp", per_second=1000 if number > _MILLISECONDS else 1)


def _annotations(fields: dict[str, str], state: str) -> dict[str, str]:
    target = fields.get("instanceName") or fields.get("dimensions", "")
    value = "no data" if state == "INSUFFICIENT_DATA" else fields.get("curValue", "")
    unit = fields.get("unit", "") if value != "no data" else ""
    summary = fields["alertName"] + (f" on {target}" if target else "")
    if value:
        summary += f": {value}{'' if unit in ('', '%') else ' '}{unit}"
    lines = [
        ("Condition", fields.get("expression", "")),
        ("Metric", "/".join(filter(None, (fields.get("namespace"), fields.get("metricName"))))),
        ("Value", f"{value} {unit}".strip()),
        ("Object", fields.get("dimensions", "")),
        ("Region", fields.get("regionName") or fields.get("regionId", "")),
        ("Application group", fields.get("productGroupName", "")),
        ("Lasted", fields.get("lastTime", "")),
    ]
    notes = {"summary": summary, "description": "\n".join(f"{k}: {v}" for k, v in lines if v)}
    notes.update((note, fields[key]) for note, key in _ANNOTATIONS if fields.get(key))
    return notes
