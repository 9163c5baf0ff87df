"""A Sentry metric alert (``Sentry-Hook-Resource: metric_alert``) as an `AlertEvent`.

The action is ``critical`` or ``warning`` (the rule's trigger crossed, or moved between the
two) or ``resolved``. All three share the fingerprint ``sentry:metric:<rule id>:<projects>``
(the incident's project slugs, sorted and comma-joined): one alert per rule and project,
whichever Sentry incident number is current, so a rule that fires again after resolving
re-opens the same alert and Tocsin sees it flap. A resolution does not say which level ended, so it
carries no ``severity`` label.
"""

from __future__ import annotations

from typing import Any

from adapters.sources._common import join, object_field, parse_time, text_field
from adapters.sources.sentry_fields import METRIC_LEVELS, ident, names
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import InputError

WHERE = "data.metric_alert"


def metric_alert(action: str, data: dict[str, Any], source: str) -> AlertEvent:
    """``data.metric_alert`` (the incident, holding its ``alert_rule``) with Sentry's texts
    ``data.description_title`` and ``data.description_text``."""
    if action not in METRIC_LEVELS and action != "resolved":
        raise InputError(
            f'action: must be "critical", "warning" or "resolved" for a metric alert, '
            f"got {action!r}"
        )
    incident = object_field(data, "metric_alert", "data", required=True)
    rule_at = join(WHERE, "alert_rule")
    rule = object_field(incident, "alert_rule", WHERE, required=True)
    rule_id = ident(rule, "id", rule_at)
    projects = ",".join(
        sorted(
            names(incident.get("projects"), join(WHERE, "projects"))
            or names(rule.get("projects"), join(rule_at, "projects"))
        )
    )
    name = text_field(rule, "name", rule_at) or f"Sentry metric alert {rule_id}"
    labels = {"alertname": name, "sentry_alert_rule_id": rule_id}
    if action in METRIC_LEVELS:
        labels.update(severity=METRIC_LEVELS[action], sentry_severity=action)
    if projects:
        labels["sentry_project"] = projects
    if environment := text_field(rule, "environment", rule_at):
        labels["sentry_environment"] = environment
    annotations = {
        "summary": text_field(data, "description_title", "data") or name,
        # Sentry's example writes the line break as the two characters "\n"
        "description": text_field(data, "description_text", "data").replace("\\n", "\n"),
        "sentry_incident_id": text_field(incident, "id", WHERE),
    }
    resolved = action == "resolved"
    ended = parse_time(incident.get("date_closed"), join(WHERE, "date_closed"))
    return AlertEvent(
        source=source,
        fingerprint=f"sentry:metric:{rule_id}" + (f":{projects}" if projects else ""),
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        labels=labels,
        annotations={k: v for k, v in annotations.items() if v},
        starts_at=parse_time(incident.get("date_started"), join(WHERE, "date_started")),
        ends_at=ended if resolved else None,
        generator_url=text_field(data, "web_url", "data"),
    )
