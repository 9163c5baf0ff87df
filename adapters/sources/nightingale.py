"""Nightingale (夜莺, n9e) alert events to `AlertEvent`s (documented in docs/alerts-nightingale.md).

Nightingale posts its alert event (`AlertCurEvent`, JSON) from several places: a rule's callback
URL (回调地址) and the global webhooks (v6/v7) send one event object, or an array of them when
batching is on; the built-in *Callback* notification media (v8+) sends the array its body
``{{ jsonMarshal $events }}`` renders; a custom media body may wrap it as ``{"events": [...]}``.
All three shapes are accepted; a bad event of an array is rejected alone.

Mapping: `rule_name` is the alert's name; `severity` (1 Critical, 2 Warning, 3 Info) becomes
`critical`, `warning` or `info` (any other level `warning`), the level itself kept as
`nightingale_severity`; the ``key=value`` `tags` (else `tags_map`) become labels, as do the rule
id, business group, datasource and target ident (prefixed ``nightingale_``). The event's `hash`
(an MD5 of rule, series labels, datasource, level and query) is the fingerprint: the same on each
repeat notification and on the recovery. `is_recovered` resolves. Unix-second times give the
start (`first_trigger_time`) and, on recovery, the end (`last_eval_time`). The rule's own
annotations (附加信息) are kept and win over the summary, description, value and runbook
filled in here.

Nightingale sends only fire and recovery events, so nothing is ignored but an empty array. Its
events carry no address of the Nightingale site; when the rule's annotations (or a wrapping
body) hold ``nightingale_url``, the event's page there becomes the alert's source link.
"""

from __future__ import annotations

from typing import Any

from adapters.sources import tags
from adapters.sources._common import join, json_type, require_object, string_map, text_field
from adapters.sources.nightingale_fields import (
    SEVERITY_WORDS,
    flag,
    moment,
    required_text,
    severity,
    tag_list,
)
from bot.alerts.batch import Parsed, Rejected
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import InputError

BASE_URL = "nightingale_url"
"""The annotation (or wrapping-body key) naming the Nightingale site, e.g. https://n9e.example.com."""
_ROUTING = (
    ("nightingale_rule_id", "rule_id"),
    ("nightingale_group_name", "group_name"),
    ("nightingale_datasource", "cluster"),
    ("nightingale_target", "target_ident"),
)
"""Labels taken from the event's own fields: (label, field)."""


def parse(payload: Any, source: str) -> Parsed:
    """The events of one decoded body: an event, an array of events, or ``{"events": [...]}``.
    A bad body (or a bad single event) raises `InputError` naming the field; a bad event of an
    array is rejected alone, naming its field."""
    if isinstance(payload, list):
        return _each(payload, "", source, base="")
    body = require_object(payload, "payload")
    if "events" in body and "hash" not in body:
        events = body["events"]
        if not isinstance(events, list):
            raise InputError(f"events: must be an array of events, got {json_type(events)}")
        return _each(events, "events", source, base=text_field(body, BASE_URL, ""))
    return Parsed([parse_event(body, "", source=source)])


def _each(items: list[Any], prefix: str, source: str, *, base: str) -> Parsed:
    parsed = Parsed()
    for index, item in enumerate(items):
        where = f"{prefix}[{index}]"
        try:
            event = parse_event(require_object(item, where), where, source=source, base=base)
        except InputError as exc:
            parsed.rejected.append(_rejected(item, where, str(exc)))
        else:
            parsed.events.append(event)
    return parsed


def parse_event(event: dict[str, Any], where: str, *, source: str, base: str = "") -> AlertEvent:
    """One Nightingale alert event, found at `where`."""
    identity = required_text(event, "hash", where, "the event's hash")
    name = required_text(event, "rule_name", where, "the alert rule's name")
    level, word = severity(event, where)
    recovered = flag(event, "is_recovered", where)
    labels = _labels(event, where)
    labels.update(alertname=name, severity=level, nightingale_severity=word)
    annotations = string_map(event.get("annotations"), join(where, "annotations"))
    for key, value in _facts(event, where, name, word).items():
        if value:
            annotations.setdefault(key, value)
    first = moment(event, "first_trigger_time", where)
    triggered = moment(event, "trigger_time", where)
    evaluated = moment(event, "last_eval_time", where)
    return AlertEvent(
        source=source,
        fingerprint=f"nightingale:{identity}",
        status=AlertStatus.RESOLVED if recovered else AlertStatus.FIRING,
        labels=labels,
        annotations=annotations,
        starts_at=first or triggered,
        ends_at=evaluated if recovered else None,
        generator_url=_event_page(
            annotations.get(BASE_URL) or base, text_field(event, "id", where)
        ),
    )


def _labels(event: dict[str, Any], where: str) -> dict[str, str]:
    """The event's tags as labels (`tags` first, `tags_map` for names it lacks), then the
    fields worth routing on."""
    listed = [tag for tag in tag_list(event.get("tags"), join(where, "tags")) if tag.strip()]
    mapped = string_map(event.get("tags_map"), join(where, "tags_map"))
    labels = {**tags.as_labels(mapped), **tags.pairs(listed, "=")}
    for label, key in _ROUTING:
        value = text_field(event, key, where)
        if value:
            labels[label] = value
    return labels


def _facts(event: dict[str, Any], where: str, name: str, word: str) -> dict[str, str]:
    """Annotations filled from the event's fields, unless the rule's annotations have them."""
    target = text_field(event, "target_ident", where)
    value = text_field(event, "trigger_value", where)
    query = text_field(event, "prom_ql", where)
    group = text_field(event, "group_name", where)
    level = f"Level: {SEVERITY_WORDS.get(word, word)}"
    lines = [
        text_field(event, "rule_note", where),
        f"{level} · business group {group}" if group else level,
        f"Value: {value}" if value else "",
        f"Query: {query}" if query else "",
    ]
    return {
        "summary": f"{name} · {target}" if target else name,
        "description": "\n".join(line for line in lines if line),
        "runbook_url": text_field(event, "runbook_url", where),
        "value": value,
        "query": query,
        "target_note": text_field(event, "target_note", where),
    }


def _event_page(base: str, event_id: str) -> str:
    """The event's page on the Nightingale site at `base`, when both are known."""
    if not base or not (event_id.isascii() and event_id.isdigit()) or int(event_id) == 0:
        return ""
    return f"{base.strip().rstrip('/')}/alert-his-events/{event_id}"


def _rejected(item: Any, where: str, error: str) -> Rejected:
    """What can be told of a refused event, for the sender to find it."""
    fingerprint = name = ""
    if isinstance(item, dict):
        if isinstance(item.get("hash"), str) and item["hash"]:
            fingerprint = f"nightingale:{item['hash']}"[:128]
        if isinstance(item.get("rule_name"), str):
            name = item["rule_name"][:128]
    return Rejected(where, "malformed", error, fingerprint, name)
