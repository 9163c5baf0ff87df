"""New Relic workflow webhooks (one issue per request) to `AlertEvent`s.

A New Relic workflow's Webhook channel posts the JSON its payload template (Handlebars) renders.
New Relic's default template is read as it is: `id` (the issue's id), `issueUrl`, `title`,
`priority`, `state`, `trigger`, `createdAt` and `updatedAt` (epoch milliseconds),
`alertPolicyNames`, `alertConditionNames`, `impactedEntities`, `totalIncidents`, `sources`,
`isCorrelated`, `workflowName`. The template recommended in docs/alerts-newrelic.md adds
`closedAt`, `description`, `runbookUrl`, `violationChartUrl`, `conditionFamilyId` and `tags`
(`accumulations.tag`, each tag's values over the issue's incidents; a label keeps the first).

An issue is one alert, fingerprinted `newrelic:<issue id>`. State CREATED or ACTIVATED fires;
CLOSED resolves, and so does DEACTIVATED (an issue New Relic stops tracking on its own, so no
CLOSED follows). An acknowledgement (state or trigger ACKNOWLEDGED) is ignored: acknowledging in
New Relic acknowledges nobody in Tocsin, and the issue is still open. The alert's name is the
first alert condition's; priority CRITICAL, HIGH, MEDIUM, LOW gives severity critical, high,
warning, info. Values that change while an issue is open (entities, incident count, trigger)
are annotations, so the labels of its firing and its resolution are the same.
"""

from __future__ import annotations

from typing import Any

from adapters.sources._common import optional_str, require_object
from adapters.sources.newrelic_fields import epoch_ms, first, strings, tag_labels, text
from adapters.sources.tags import CRITICAL, HIGH, INFO, WARNING
from bot.alerts.batch import Parsed
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import InputError

SEVERITY = {"CRITICAL": CRITICAL, "HIGH": HIGH, "MEDIUM": WARNING, "LOW": INFO}
"""New Relic's issue priority → Tocsin's severity (the default tiers give P0, P1, P2, P3)."""
STATES = {
    "CREATED": AlertStatus.FIRING,
    "ACTIVATED": AlertStatus.FIRING,
    "CLOSED": AlertStatus.RESOLVED,
    "DEACTIVATED": AlertStatus.RESOLVED,
}
"""An issue's `state` → the alert's status; ACKNOWLEDGED is ignored."""
ACKNOWLEDGED = "ACKNOWLEDGED"
_ISSUE_ID = ("issueId", "id")
"""Where the issue's id is: `issueId` if a template names it so, else the default's `id`."""
_URL = ("issueUrl", "issuePageUrl")


def parse(payload: Any, source: str) -> Parsed:
    """The issue of one decoded webhook body: one alert, or none for an acknowledgement.
    A bad body raises `InputError` naming the field."""
    body = require_object(payload, "payload")
    status = _status(body)
    if status is None:
        return Parsed()
    labels = _labels(body)
    closed, updated = epoch_ms(body, "closedAt"), epoch_ms(body, "updatedAt")
    event = AlertEvent(
        source=source,
        fingerprint=f"newrelic:{_issue_id(body)}",
        status=status,
        labels=labels,
        annotations=_annotations(body, labels["alertname"]),
        starts_at=epoch_ms(body, "createdAt"),
        ends_at=(closed or updated) if status is AlertStatus.RESOLVED else None,
        generator_url=next((url for key in _URL if (url := optional_str(body, key, ""))), ""),
    )
    return Parsed([event])


def _status(body: dict[str, Any]) -> AlertStatus | None:
    """The alert's status, or `None` for a notification Tocsin ignores (an acknowledgement)."""
    state = text(body, "state").upper()
    if not state:
        raise InputError("state: required (the issue's state: {{ json state }})")
    if state == ACKNOWLEDGED:
        return None
    if state not in STATES:
        known = ", ".join([*STATES, ACKNOWLEDGED])
        raise InputError(f"state: must be one of {known}, got {state!r}")
    acknowledged = text(body, "trigger").upper() == ACKNOWLEDGED
    return None if acknowledged and STATES[state] is AlertStatus.FIRING else STATES[state]


def _issue_id(body: dict[str, Any]) -> str:
    for key in _ISSUE_ID:
        if issue := text(body, key):
            return issue
    raise InputError("id: required (the issue's id: {{ json issueId }})")


def _labels(body: dict[str, Any]) -> dict[str, str]:
    priority = text(body, "priority").upper()
    if not priority:
        raise InputError("priority: required (the issue's priority: {{ json priority }})")
    if priority not in SEVERITY:
        raise InputError(f"priority: must be one of {', '.join(SEVERITY)}, got {priority!r}")
    name = first(body, "alertConditionNames") or first(body, "alertPolicyNames")
    name = name or text(body, "title")
    if not name:
        raise InputError("alertConditionNames: required (the issue's alert condition names)")
    labels = tag_labels(body, "tags")
    labels.update(alertname=name, severity=SEVERITY[priority], newrelic_severity=priority)
    optional = (
        ("newrelic_policy", first(body, "alertPolicyNames")),
        ("newrelic_condition_id", first(body, "conditionFamilyId")),
    )
    labels.update((key, value) for key, value in optional if value)
    return labels


def _annotations(body: dict[str, Any], name: str) -> dict[str, str]:
    entities = strings(body, "impactedEntities")
    policies = ", ".join(strings(body, "alertPolicyNames"))
    conditions = ", ".join(strings(body, "alertConditionNames"))
    lines = [
        first(body, "description"),
        f"Impacted: {', '.join(entities)}" if entities else "",
        f"Policy: {policies}" if policies else "",
        f"Conditions: {conditions}" if conditions else "",
    ]
    notes = {
        "summary": text(body, "title") or name,
        "description": "\n".join(line for line in lines if line),
        "runbook_url": first(body, "runbookUrl"),
        "panel_url": optional_str(body, "violationChartUrl", "").strip(),
        "impacted_entities": ", ".join(entities),
        "incidents": text(body, "totalIncidents"),
        "newrelic_state": text(body, "state").upper(),
        "newrelic_trigger": text(body, "trigger"),
        "newrelic_sources": ", ".join(strings(body, "sources")),
        "newrelic_correlated": text(body, "isCorrelated"),
        "newrelic_workflow": text(body, "workflowName"),
    }
    return {key: value for key, value in notes.items() if value}
