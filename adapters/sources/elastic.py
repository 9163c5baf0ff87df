"""Kibana alerting rules (Elastic Stack 8.x and later) through a Webhook connector.

Kibana posts whatever body the rule action's Mustache template renders. docs/alerts-elastic.md
ships the template this parser reads, the same one for the rule's firing action group and for
"Recovered". Its keys are named after Kibana's action variables, so an error names the variable
to fix: `rule` (`id`, `name`, `type`, `spaceId`, `url`, `tags`), `alert` (`id`, `uuid`,
`actionGroup`, `actionGroupName`, `flapping`), `context` (what the rule type fills in:
`reason`, `title`, `message`, `conditions`, `value`, links, APM's `serviceName` and
`environment`, a security rule's `rule.severity`) and `date`.

One body is one alert, fingerprinted ``elastic:<rule.id>:<alert.id>`` (`alert.id` is the
alert's group: a host, a service, "query matched"), so the recovery closes the alert its firing
opened. Kibana says "recovered" only through `alert.actionGroup`; any other group fires. The
rule's name is the alert's name, its tags become labels, and the severity comes from a
``severity:<level>`` tag, else a security rule's severity, else the action group
(`elastic_severity.py`). Two kinds of body are not alerts: one whose placeholders were never
rendered (the connector's Test tab) is ignored, and one from a "Summary of alerts" action,
which has no `alert.id`, is refused, naming the setting to change.
"""

from __future__ import annotations

import re
from typing import Any

from adapters.sources import tags
from adapters.sources._common import (
    json_type,
    object_field,
    parse_time,
    require_object,
    scalar_string,
    text_field,
)
from adapters.sources.elastic_severity import severity_of
from bot.alerts.batch import Parsed
from bot.alerts.event import AlertEvent, AlertStatus
from bot.alerts.facts import is_web
from bot.errors import InputError

RECOVERED = "recovered"
"""The action group Kibana runs an alert's recovery actions in."""
_UNRENDERED = re.compile(r"\{\{.*\}\}")
_PER_ALERT = 'set the action\'s frequency to "For each alert"'
_DASHBOARD_LINKS = ("link", "alertDetailsUrl", "viewInAppUrl", "results_link")
"""Context variables, in order of preference, whose link the card shows as the dashboard:
the ES query's Discover link, Observability's alert page and app view, Security's alerts."""
_RUNBOOK_TAGS = ("runbook_url", "runbook")
"""Rule tags (``runbook_url:https://…``) whose link the card shows as the runbook."""


def parse(payload: Any, source: str) -> Parsed:
    """The alert of one rendered Webhook body; a bad body raises `InputError` naming the
    variable, and a connector test whose placeholders were not rendered gives no alert."""
    body = require_object(payload, "payload")
    rule = object_field(body, "rule", "", required=True)
    rule_id = text_field(rule, "id", "rule")
    if _UNRENDERED.fullmatch(rule_id):
        return Parsed()
    if not rule_id:
        raise InputError("rule.id: required")
    name = text_field(rule, "name", "rule")
    if not name:
        raise InputError("rule.name: required")
    alert = object_field(body, "alert", "", required=True)
    group = text_field(alert, "actionGroup", "alert")
    alert_id = text_field(alert, "id", "alert")
    if not group:
        raise InputError(f"alert.actionGroup: required ({_PER_ALERT})")
    if not alert_id:
        raise InputError(f"alert.id: required ({_PER_ALERT})")
    context = object_field(body, "context", "")
    resolved = group == RECOVERED
    labels = _labels(rule, alert_id, context)
    security = text_field(object_field(context, "rule", "context"), "severity", "context.rule")
    labels.update(severity_of(labels.get("severity", ""), security, "" if resolved else group))
    labels["alertname"] = name
    moment = parse_time(text_field(body, "date", "") or None, "date")
    return Parsed(
        [
            AlertEvent(
                source=source,
                fingerprint=f"elastic:{rule_id}:{alert_id}",
                status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
                labels=labels,
                annotations=_annotations(alert, context, labels),
                ends_at=moment if resolved else None,
                generator_url=text_field(rule, "url", "rule"),
            )
        ]
    )


def _labels(rule: dict[str, Any], alert_id: str, context: dict[str, Any]) -> dict[str, str]:
    """The rule's tags, then the rule and alert facts worth routing on (which win)."""
    labels = tags.pairs(_tags(rule.get("tags"), "rule.tags"))
    facts = {
        "elastic_rule_id": text_field(rule, "id", "rule"),
        "elastic_rule_type": text_field(rule, "type", "rule"),
        "elastic_space": text_field(rule, "spaceId", "rule"),
        "elastic_alert_id": alert_id,
        "elastic_service": text_field(context, "serviceName", "context"),
        "elastic_environment": text_field(context, "environment", "context"),
    }
    labels.update({key: value for key, value in facts.items() if value})
    return labels


def _annotations(
    alert: dict[str, Any], context: dict[str, Any], labels: dict[str, str]
) -> dict[str, str]:
    """The card's headline and details, its links, and the alert's changing facts."""

    def text(key: str) -> str:
        return text_field(context, key, "context")

    summary = text("reason") or text("title")
    security = object_field(context, "rule", "context")
    detail = text("message") or text_field(security, "description", "context.rule")
    group = text_field(alert, "actionGroupName", "alert") or text_field(
        alert, "actionGroup", "alert"
    )
    found = {
        "summary": summary,
        "description": detail if detail != summary else "",
        "conditions": text("conditions"),
        "value": text("value"),
        "dashboard_url": next(filter(is_web, map(text, _DASHBOARD_LINKS)), ""),
        "runbook_url": next(filter(is_web, (labels.get(k, "") for k in _RUNBOOK_TAGS)), ""),
        "action_group": group,
        "alert_uuid": text_field(alert, "uuid", "alert"),
        "flapping": "true" if text_field(alert, "flapping", "alert").lower() == "true" else "",
    }
    return {key: value for key, value in found.items() if value}


def _tags(value: Any, where: str) -> list[str]:
    """`rule.tags`: a JSON array (``{{{rule.tags.asJSON}}}``) or Kibana's comma-joined
    rendering (``"{{rule.tags}}"``)."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = [scalar_string(item, f"{where}[{index}]") for index, item in enumerate(value)]
    else:
        kind = json_type(value)
        raise InputError(f"{where}: must be an array of strings or a string, got {kind}")
    return [item.strip() for item in items if item.strip()]
