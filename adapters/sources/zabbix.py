"""Zabbix (6.0 LTS, 7.0 LTS) trigger notifications to `AlertEvent`s.

Zabbix notifies through a media type; Tocsin ships one (``config/zabbix/media_tocsin.yaml``)
whose script posts the media type's parameters, filled from Zabbix's macros, as one flat JSON
object: ``event_id`` ({EVENT.ID}), ``event_value`` ({EVENT.VALUE}), ``event_nseverity``,
``event_name``, ``event_tags`` ({EVENT.TAGSJSON}, parsed to an array), ``host_host``,
``trigger_id``, ``zabbix_url`` and the rest; a macro Zabbix left unresolved arrives empty.
This module reads exactly that body.

One Zabbix problem is one alert: its fingerprint is ``zabbix:<problem event id>``, and a
recovery notification carries the problem's id in {EVENT.ID} (the recovery event's own id is
{EVENT.RECOVERY.ID}), so it resolves that alert. {EVENT.VALUE} 1 fires, 0 resolves. The
numeric severity (0 Not classified … 5 Disaster) is normalised by `SEVERITIES`; the event's
tags become labels, except tags named ``__…``, which media types such as Opsgenie's add to an
event after it fired. The label ``severity`` and the ``zabbix_*`` labels are set here and win
over a tag of the same name.

Ignored (an empty result, so Zabbix records the notification as sent): problem updates
({EVENT.UPDATE.STATUS} 1: acknowledgements, comments, severity changes; a problem closed by
hand sends a recovery), events that are not trigger events (discovery, autoregistration,
internal and service events), which have no problem to fire and resolve, and the media type's
Test, whose macros are unresolved (no event source, id or value): it proves the URL and token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapters.sources import tags
from adapters.sources._common import join, json_type, require_object, scalar_string, unix_time
from bot.alerts.batch import Parsed
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import InputError

SEVERITIES: dict[str, tuple[str, str]] = {
    "0": ("Not classified", tags.INFO),
    "1": ("Information", tags.INFO),
    "2": ("Warning", tags.WARNING),
    "3": ("Average", tags.WARNING),
    "4": ("High", tags.HIGH),
    "5": ("Disaster", tags.CRITICAL),
}
"""{EVENT.NSEVERITY} → (Zabbix's default name for it, Tocsin's severity)."""

TRIGGER_EVENTS = "0"
"""{EVENT.SOURCE} of trigger events, the only ones that fire and resolve a problem."""
_DIGITS = re.compile(r"[0-9]{1,20}")
_OWN_LABELS = ("alertname", "severity")


def parse(payload: Any, source: str) -> Parsed:
    """The alert of one notification, or none for a notification Tocsin ignores. A bad body
    raises `InputError` naming the field."""
    body = require_object(payload, "payload")
    origin = _text(body, "event_source")
    if not origin and not _text(body, "event_id") and not _text(body, "event_value"):
        return Parsed()  # the media type's Test, whose macros Zabbix leaves unresolved
    if (origin or TRIGGER_EVENTS) != TRIGGER_EVENTS:
        return Parsed()
    if _update(body):
        return Parsed()
    return Parsed([_event(body, source)])


def _update(body: Mapping[str, Any]) -> bool:
    """Whether the notification is a problem update ({EVENT.UPDATE.STATUS} 1)."""
    update = _text(body, "event_update_status")
    if update not in ("", "0", "1"):
        raise InputError(f'event_update_status: must be "0" or "1", got {update!r}')
    return update == "1"


def _event(body: Mapping[str, Any], source: str) -> AlertEvent:
    event_id = _id(body, "event_id", required=True)
    status = _status(body)
    name = _text(body, "event_name")
    if not name:
        raise InputError("event_name: required (the problem's name, {EVENT.NAME})")
    level, severity = _severity(body)
    host, host_name = _text(body, "host_host"), _text(body, "host_name")
    trigger_id = _id(body, "trigger_id")
    labels = _tag_labels(body.get("event_tags"), "event_tags")
    labels.update(alertname=name, severity=severity, zabbix_severity=level)
    for label, value in (
        ("zabbix_host", host),
        ("zabbix_host_groups", _text(body, "host_groups")),
        ("zabbix_trigger_id", trigger_id),
    ):
        if value:
            labels[label] = value
    resolved = status is AlertStatus.RESOLVED
    return AlertEvent(
        source=source,
        fingerprint=f"zabbix:{event_id}",
        status=status,
        labels=labels,
        annotations=_annotations(body, name, host_name or host, event_id, resolved=resolved),
        starts_at=_moment(body, "event_timestamp"),
        ends_at=_moment(body, "event_recovery_timestamp") if resolved else None,
        generator_url=_event_page(_text(body, "zabbix_url"), trigger_id, event_id),
    )


def _status(body: Mapping[str, Any]) -> AlertStatus:
    value = _text(body, "event_value")
    if value == "1":
        return AlertStatus.FIRING
    if value == "0":
        return AlertStatus.RESOLVED
    if not value:
        raise InputError("event_value: required ({EVENT.VALUE}: 1 problem, 0 recovery)")
    raise InputError(f'event_value: must be "1" (problem) or "0" (recovery), got {value!r}')


def _severity(body: Mapping[str, Any]) -> tuple[str, str]:
    """(Zabbix's word for the level, Tocsin's severity)."""
    number = _text(body, "event_nseverity")
    if not number:
        raise InputError("event_nseverity: required ({EVENT.NSEVERITY}, 0 to 5)")
    if number not in SEVERITIES:
        raise InputError(f"event_nseverity: must be 0 to 5, got {number!r}")
    default_name, severity = SEVERITIES[number]
    return _text(body, "event_severity") or default_name, severity


def _annotations(
    body: Mapping[str, Any], name: str, host: str, event_id: str, *, resolved: bool
) -> dict[str, str]:
    found = {
        "summary": f"{host}: {name}" if host else name,
        "description": (
            _text(body, "alert_message").strip() or _text(body, "trigger_description").strip()
        ),
        "value": _text(body, "event_opdata"),
        "runbook_url": _text(body, "trigger_url"),
        "host_name": _text(body, "host_name"),
        "zabbix_event_id": event_id,
        "zabbix_recovery_event_id": _id(body, "event_recovery_id") if resolved else "",
    }
    return {key: value for key, value in found.items() if value}


def _tag_labels(value: Any, where: str) -> dict[str, str]:
    """{EVENT.TAGSJSON} (``[{"tag": "service", "value": "checkout"}, …]``) as labels; a tag
    named twice keeps its first value."""
    if value is None or value == "":
        return {}
    if not isinstance(value, list):
        raise InputError(f"{where}: must be an array of tags, got {json_type(value)}")
    found: dict[str, str] = {}
    for index, item in enumerate(value):
        at = f"{where}[{index}]"
        tag = require_object(item, at)
        key = tag.get("tag")
        if not isinstance(key, str) or not key:
            raise InputError(f"{join(at, 'tag')}: must be a non-empty string, got {key!r}")
        raw = tag.get("value")
        text = "" if raw is None else scalar_string(raw, join(at, "value"))
        if not key.startswith("__"):
            found.setdefault(key, text)
    labels = tags.as_labels(found)
    for own in (*_OWN_LABELS, *(k for k in labels if k.startswith("zabbix_"))):
        labels.pop(own, None)
    return labels


def _text(body: Mapping[str, Any], key: str) -> str:
    """A parameter as the script sends it: a string (numbers are taken), `""` when absent."""
    value = body.get(key)
    return "" if value is None else scalar_string(value, key)


def _id(body: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = _text(body, key).strip()
    if not value:
        if required:
            raise InputError(f"{key}: required")
        return ""
    if not _DIGITS.fullmatch(value):
        raise InputError(f"{key}: must be a Zabbix ID (digits), got {value!r}")
    return value


def _moment(body: Mapping[str, Any], key: str) -> datetime | None:
    """A {…TIMESTAMP} macro's unix seconds as a UTC time; empty gives `None`."""
    value = _text(body, key).strip()
    if not value:
        return None
    if not _DIGITS.fullmatch(value) or len(value) > 11:
        raise InputError(f"{key}: must be unix seconds, got {value!r}")
    return unix_time(int(value), key)


def _event_page(zabbix_url: str, trigger_id: str, event_id: str) -> str:
    """The event's page in the Zabbix frontend, when the frontend's address is known."""
    base = zabbix_url.strip().rstrip("/")
    if not base or not trigger_id:
        return ""
    return f"{base}/tr_events.php?triggerid={trigger_id}&eventid={event_id}"
