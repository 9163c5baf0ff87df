"""Datadog monitor notifications, sent by the Webhooks integration, to `AlertEvent`s.

Datadog posts one JSON body per notification of a monitor whose message mentions
``@webhook-<name>``; the user writes the body with `$VARIABLES` (docs/alerts-datadog.md gives
the recommended one). Datadog's default body (`body`, `last_updated`, `event_type`, `title`,
`date`, `org`, `id`) is read too: what the template's fields do not say is read from the event
title, ``[P1] [Triggered on {host:web-1}] Disk is full`` (`adapters.sources.datadog_text`).

- Status: the transition (`alert_transition`, else the title's) ``Recovered`` resolves;
  Triggered, Warn, No Data, their ``Re-`` forms and Renotify fire.
- Severity: the monitor's priority by `SEVERITY`, a Warn never above ``warning``; the priority
  itself stays in ``datadog_severity``.
- Fingerprint: the monitor's id and its group (`alert_scope`, tags sorted), so each group of a
  multi-alert monitor is an alert of its own and its recovery closes that one.
- Labels: `$TAGS` and the group's tags (``key:value``), and a few fields worth routing on.

Ignored (answered 200, nothing stored): test notifications (``[TEST]`` in the title), the
``Null`` transition, and notifications with no transition at all (an event that mentions the
webhook rather than a monitor changing state): none starts or ends an alert.
"""

from __future__ import annotations

from typing import Any

from adapters.sources import datadog_text as text
from adapters.sources import tags
from adapters.sources._common import json_type, require_object, scalar_string
from bot.alerts.batch import Parsed
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import InputError

SEVERITY = {
    "P1": tags.CRITICAL,
    "P2": tags.HIGH,
    "P3": tags.WARNING,
    "P4": tags.INFO,
    "P5": tags.INFO,
}
NO_PRIORITY = tags.HIGH
"""The severity of a monitor without a priority."""
_LINKS = (
    ("runbook_url", ("runbook_url", "runbook")),
    ("dashboard_url", ("dashboard_url", "dashboard")),
)
"""Annotations the card links to, taken from tags of these names (``runbook:https://…``)."""
_NOTES = (
    ("alert_metric", "datadog_metric"),
    ("alert_query", "datadog_query"),
    ("alert_cycle_key", "datadog_alert_cycle_key"),
    ("id", "datadog_event_id"),
)
"""Fields kept as annotations, as they are: they change between notifications."""


def parse(payload: Any, source: str) -> Parsed:
    """The alert of one notification, or none for a notification that is not one."""
    body = require_object(payload, "payload")
    if not _field(body, "title") and not _field(body, "alert_title"):
        raise InputError("title: required (the event title, $EVENT_TITLE)")
    title = text.read_title(_field(body, "title"))
    sent = _field(body, "alert_transition")
    word = sent or title.transition
    transition = text.transition_key(word)
    if title.test or text.read_title(_field(body, "alert_title")).test:
        return Parsed()
    if transition and transition not in text.KNOWN:
        raise InputError(
            f"{'alert_transition' if sent else 'title'}: unknown Datadog transition {word!r}; "
            "expected Triggered, Re-Triggered, Warn, Re-Warn, No Data, Re-No Data, Renotify "
            "or Recovered"
        )
    if not transition or transition in text.IGNORED:
        return Parsed()
    return Parsed([_event(body, title, word, transition, source)])


def _event(
    body: dict[str, Any], title: text.Title, word: str, transition: str, source: str
) -> AlertEvent:
    scope = text.scope_of(_field(body, "alert_scope")) or title.scope
    name = text.name_of(title, _field(body, "alert_title"), scope)
    if not name:
        raise InputError("title: required (the event title, $EVENT_TITLE)")
    message = _field(body, "body")
    link, linked_id = text.monitor_link(message)
    monitor = _field(body, "alert_id") or linked_id
    priority = _priority(_field(body, "alert_priority")) or title.priority
    labels = _labels(body, scope)
    labels.update(alertname=name, severity=_severity(priority, transition))
    for key, value in (
        ("datadog_severity", priority),
        ("datadog_monitor_id", monitor),
        ("datadog_scope", scope),
        ("datadog_event_type", _field(body, "event_type")),
        ("datadog_host", _field(body, "hostname")),
    ):
        if value:
            labels[key] = value
    resolved = transition in text.RESOLVED
    date = text.epoch(_field(body, "date"), "date") or text.epoch(
        _field(body, "last_updated"), "last_updated"
    )
    return AlertEvent(
        source=source,
        fingerprint=f"datadog:{monitor or 'name:' + name}" + (f":{scope}" if scope else ""),
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        labels=labels,
        annotations=_annotations(body, labels, name, scope, word, message),
        starts_at=date if transition in text.STARTS else None,
        ends_at=date if resolved else None,
        generator_url=_field(body, "link") or link,
    )


def _field(body: dict[str, Any], key: str) -> str:
    """A top-level field as a trimmed string; missing, null and a variable Datadog left
    unfilled are ``""``, a number is written as JSON writes it."""
    value = body.get(key)
    if value is None:
        return ""
    found = scalar_string(value, key).strip()
    return "" if text.unfilled(found) else found


def _priority(value: str) -> str:
    if value and not text.PRIORITY.fullmatch(value):
        raise InputError(f"alert_priority: must be P1 to P5 or empty, got {value!r}")
    return value.upper()


def _severity(priority: str, transition: str) -> str:
    severity = SEVERITY.get(priority, NO_PRIORITY)
    if transition in text.WARN:  # the less severe of the priority's and warning
        return max(severity, tags.WARNING, key=tags.SEVERITIES.index)
    return severity


def _labels(body: dict[str, Any], scope: str) -> dict[str, str]:
    """`$TAGS` (a comma-separated string, or an array of strings), then the group's tags."""
    value = body.get("tags")
    if isinstance(value, list):
        listed = [scalar_string(item, f"tags[{i}]") for i, item in enumerate(value)]
    elif isinstance(value, dict):
        raise InputError(f"tags: must be a string of comma-separated tags, got {json_type(value)}")
    else:
        listed = _field(body, "tags").split(",")
    labels = tags.pairs([tag.strip() for tag in listed if tag.strip()], ":")
    if scope:
        for key, tag_value in tags.pairs(scope.split(","), ":").items():
            labels.setdefault(key, tag_value)
    return labels


def _annotations(
    body: dict[str, Any], labels: dict[str, str], name: str, scope: str, word: str, message: str
) -> dict[str, str]:
    description = "\n\n".join(
        part for part in (_field(body, "alert_status"), text.message_text(message)) if part
    )
    notes = {"summary": f"{name} on {scope}" if scope else name, "datadog_transition": word}
    if description:
        notes["description"] = description
    for annotation, names in _LINKS:
        link = next((labels[n] for n in names if labels.get(n)), "")
        if link:
            notes[annotation] = link
    snapshot = _field(body, "snapshot")
    if snapshot:
        notes["panel_url"] = snapshot
    for key, annotation in _NOTES:
        value = _field(body, key)
        if value:
            notes[annotation] = value
    return notes
