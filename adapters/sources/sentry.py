"""Sentry integration-platform webhooks (an internal integration) to `AlertEvent`s.

Sentry posts one JSON object per request, ``{"action", "data", "actor", "installation"}``, and
names its resource in the ``Sentry-Hook-Resource`` header. The parser sees only the body, so it
tells the resources apart by what ``data`` holds:

- ``data.metric_alert``: a metric alert rule (`sentry_metric`). ``critical`` and ``warning``
  fire, ``resolved`` resolves; fingerprint ``sentry:metric:<rule id>:<projects>``.
- ``data.event`` with action ``triggered``: an issue alert rule fired for an issue
  (``event_alert``). It fires; fingerprint ``sentry:issue:<issue id>``.
- ``data.issue`` (without ``data.activity``): an issue changed state (``issue``). ``resolved``
  resolves the alert of that issue, and so do ``archived`` and ``ignored`` (its older name): a
  person muted the issue in Sentry, which asks Sentry to stop calling about it. Same
  fingerprint, so an issue's resolution closes what its issue alert opened.
- Anything else is ignored (no events, answered 200 so Sentry does not retry): the issue
  actions ``created``, ``unresolved`` and ``assigned``, and the resources ``installation``,
  ``comment``, ``error``, ``activity_alert``, ``seer`` and ``preprod_artifact``.

Issue webhooks never fire an alert: an integration subscribed to them hears of every new and
every regressed issue of every project, and the alert rules are where a team chooses which of
those page (their conditions "a new issue is created", "the issue changes state from resolved
to unresolved", "… from archived to escalating" cover ``created`` and ``unresolved``).

An issue alert's labels are its event's tags, then ``alertname`` (the rule), ``severity``,
``sentry_severity`` (the event's level), ``sentry_project`` (from the event's API URL; the
payload names the project only by number otherwise), ``sentry_environment`` and
``sentry_issue_id``. An issue webhook carries neither the rule nor the tags: its labels are
``alertname`` (the issue's title), the level, the project and the issue id.
"""

from __future__ import annotations

from typing import Any

from adapters.sources._common import join, object_field, parse_time, require_object, text_field
from adapters.sources.sentry_fields import (
    event_tags,
    ident,
    issue_of_url,
    project_of_event,
    severity,
)
from adapters.sources.sentry_metric import metric_alert
from bot.alerts.batch import Parsed
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import InputError

ENDING = {"resolved": "Resolved", "archived": "Archived", "ignored": "Archived"}
"""Issue actions that end the issue's alert, and the word its description uses."""


def parse(payload: Any, source: str) -> Parsed:
    """The alert of one webhook body, or none for a notification Tocsin ignores. A malformed
    body raises `InputError` naming the field."""
    body = require_object(payload, "payload")
    action = text_field(body, "action", "")
    if not action:
        raise InputError("action: required")
    data = object_field(body, "data", "", required=True)
    if "metric_alert" in data:
        return Parsed([metric_alert(action, data, source)])
    if "activity" in data:
        return Parsed()  # an activity alert (Seer's progress on an issue): nothing to page on
    if "issue" in data:
        if action not in ENDING:
            return Parsed()
        return Parsed([issue_ended(action, body, data, source)])
    if action == "triggered":
        return Parsed([issue_alert(data, source)])
    return Parsed()


def issue_alert(data: dict[str, Any], source: str) -> AlertEvent:
    """An issue alert rule fired (``event_alert``): ``data.event`` and ``data.triggered_rule``."""
    where = "data.event"
    event = object_field(data, "event", "data", required=True)
    issue_id = text_field(event, "issue_id", where) or issue_of_url(
        text_field(event, "issue_url", where)
    )
    if not issue_id:
        raise InputError(f"{where}.issue_id: required")
    rule = text_field(data, "triggered_rule", "data") or _alert_title(data)
    if not rule:
        raise InputError("data.triggered_rule: required")
    labels = event_tags(event.get("tags"), join(where, "tags"))
    labels.update(alertname=rule, **severity(text_field(event, "level", where)))
    labels["sentry_issue_id"] = issue_id
    if project := project_of_event(text_field(event, "url", where)):
        labels["sentry_project"] = project
    if environment := text_field(event, "environment", where):
        labels["sentry_environment"] = environment
    title = text_field(event, "title", where) or text_field(event, "message", where) or rule
    details = [
        f"Culprit: {culprit}" if (culprit := text_field(event, "culprit", where)) else "",
        f"Release: {release}" if (release := text_field(event, "release", where)) else "",
    ]
    annotations = {"summary": title, "description": "\n".join(d for d in details if d)}
    if event_id := text_field(event, "event_id", where):
        annotations["sentry_event_id"] = event_id
    return AlertEvent(
        source=source,
        fingerprint=f"sentry:issue:{issue_id}",
        status=AlertStatus.FIRING,
        labels=labels,
        annotations={k: v for k, v in annotations.items() if v},
        starts_at=parse_time(event.get("datetime"), join(where, "datetime")),
        generator_url=text_field(event, "web_url", where),
    )


def _alert_title(data: dict[str, Any]) -> str:
    """The rule's label as an alert rule action sends it (``data.issue_alert.title``)."""
    settings = data.get("issue_alert")
    if settings is None:
        return ""
    return text_field(require_object(settings, "data.issue_alert"), "title", "data.issue_alert")


def issue_ended(action: str, body: dict[str, Any], data: dict[str, Any], source: str) -> AlertEvent:
    """An issue resolved or archived in Sentry (``issue``): the end of its alert."""
    where = "data.issue"
    issue = object_field(data, "issue", "data", required=True)
    issue_id = ident(issue, "id", where)
    title = text_field(issue, "title", where) or f"Sentry issue {issue_id}"
    labels = {"alertname": title, **severity(text_field(issue, "level", where))}
    labels["sentry_issue_id"] = issue_id
    project = issue.get("project")
    if project is not None:
        slug = text_field(require_object(project, f"{where}.project"), "slug", f"{where}.project")
        if slug:
            labels["sentry_project"] = slug
    annotations = {
        "summary": title,
        "description": f"{ENDING[action]} in Sentry{_by(body)}.",
        "sentry_status": action,
        "sentry_substatus": text_field(issue, "substatus", where),
        "sentry_short_id": text_field(issue, "shortId", where),
    }
    return AlertEvent(
        source=source,
        fingerprint=f"sentry:issue:{issue_id}",
        status=AlertStatus.RESOLVED,
        labels=labels,
        annotations={k: v for k, v in annotations.items() if v},
        starts_at=parse_time(issue.get("firstSeen"), join(where, "firstSeen")),
        generator_url=text_field(issue, "web_url", where) or text_field(issue, "permalink", where),
    )


def _by(body: dict[str, Any]) -> str:
    """`` by <name>`` when a person did it (``actor.type`` ``user``), else nothing."""
    actor = body.get("actor")
    if not isinstance(actor, dict) or actor.get("type") != "user":
        return ""
    name = actor.get("name")
    return f" by {name.strip()}" if isinstance(name, str) and name.strip() else ""
