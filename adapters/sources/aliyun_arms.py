"""ARMS alert management webhooks (template ``$alertmanager_content``) to `AlertEvent`s.

ARMS sends Alertmanager's body. Per alert: the labels become labels (names made label names,
so ``_aliyun_arms_alert_rule_id`` is ``aliyun_arms_alert_rule_id``); ``severity`` (else
``_aliyun_arms_alert_level``) is normalised by `LEVELS`; an alert of an ARMS application
(``_aliyun_arms_involvedObject_kind`` ``app``) gets its name in ``aliyun_app``. The alert's
``fingerprint`` (a hash of its labels) identifies it, ``status`` says firing or resolved, and
the body's ``externalURL``, ARMS's page for the alert, is the link back. Annotations are kept;
``message``, ARMS's text for the alert, gives the summary (its first line) and, when longer,
the description, unless the rule sets them.
"""

from __future__ import annotations

from typing import Any

from adapters.sources import tags
from adapters.sources._common import (
    each_alert,
    join,
    optional_str,
    parse_status,
    parse_time,
    string_map,
)
from bot.alerts.batch import Parsed
from bot.alerts.event import AlertEvent, label_fingerprint
from bot.errors import InputError

LEVELS: dict[str, str] = {
    "critical": tags.CRITICAL,
    "page": tags.CRITICAL,
    "p1": tags.CRITICAL,
    "error": tags.HIGH,
    "high": tags.HIGH,
    "p2": tags.HIGH,
    "warning": tags.WARNING,
    "warn": tags.WARNING,
    "p3": tags.WARNING,
    "info": tags.INFO,
    "p4": tags.INFO,
    "p5": tags.INFO,
    "p6": tags.INFO,
}
"""ARMS event levels (critical, error, warning, info), alert levels (P1 highest … P6) and the
usual Prometheus words, lower-cased, to Tocsin's severities; anything else is `DEFAULT`."""
DEFAULT = tags.WARNING
SUMMARY_CHARS = 200
_LEVEL_LABELS = ("severity", "_aliyun_arms_alert_level")
_NAME_LABELS = ("alertname", "_aliyun_arms_alert_name")


def parse(body: dict[str, Any], source: str) -> Parsed:
    """Every alert of `body`; a bad one is rejected alone, naming its field."""
    console = optional_str(body, "externalURL", "")
    return each_alert(body, lambda alert, where: _alert(alert, where, source, console))


def _alert(alert: dict[str, Any], where: str, source: str, console: str) -> AlertEvent:
    raw = string_map(alert.get("labels"), join(where, "labels"), required=True)
    name = next((raw[key] for key in _NAME_LABELS if raw.get(key)), "")
    if not name:
        raise InputError(f"{join(where, 'labels.alertname')}: required")
    annotations = string_map(alert.get("annotations"), join(where, "annotations"))
    generator = optional_str(alert, "generatorURL", where)
    if generator and console and generator != console:
        annotations.setdefault("aliyun_generator_url", generator)
    return AlertEvent(
        source=source,
        fingerprint="aliyun:arms:"
        + (optional_str(alert, "fingerprint", where) or label_fingerprint(raw)),
        status=parse_status(alert.get("status"), join(where, "status")),
        labels=_labels(raw, name),
        annotations=_with_text(annotations),
        starts_at=parse_time(alert.get("startsAt"), join(where, "startsAt")),
        ends_at=parse_time(alert.get("endsAt"), join(where, "endsAt")),
        generator_url=console or generator,
    )


def _labels(raw: dict[str, str], name: str) -> dict[str, str]:
    labels = tags.as_labels(raw)
    word = next((raw[key] for key in _LEVEL_LABELS if raw.get(key)), "")
    labels.update(alertname=name, severity=LEVELS.get(word.strip().lower(), DEFAULT))
    labels["aliyun_product"] = "arms"
    if word:
        labels["aliyun_severity"] = word
    if raw.get("_aliyun_arms_involvedObject_kind") == "app":
        app = raw.get("_aliyun_arms_involvedObject_name", "")
        if app:
            labels["aliyun_app"] = app
    return labels


def _with_text(annotations: dict[str, str]) -> dict[str, str]:
    """`annotations` with a summary and description, from ARMS's ``message`` when unset."""
    message = annotations.get("message", "").strip()
    if message and not annotations.get("summary"):
        annotations["summary"] = message.splitlines()[0][:SUMMARY_CHARS]
    if message and message != annotations["summary"] and not annotations.get("description"):
        annotations["description"] = message
    return annotations
