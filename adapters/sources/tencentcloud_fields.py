"""Reading the fields of a Tencent Cloud Observability Platform alarm callback.

The callback is loosely typed: `alarmStatus`, `durationTime` and most dimension values come as
strings or numbers, times are Beijing local time without a zone, and a "not yet" time is
``"0"``. Each helper takes the value's path (`where`) and raises `InputError` naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from adapters.sources import tags
from adapters.sources._common import join, json_type, require_object, scalar_string, text_field
from bot.alerts.event import AlertStatus
from bot.errors import InputError

BEIJING = timezone(timedelta(hours=8), "UTC+08:00")
"""The zone of every time in a callback (Asia/Shanghai, which keeps no daylight saving)."""
_LOCAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_NOT_YET = ("", "0")

LEVELS: dict[str, tuple[str, str]] = {
    "serious": ("serious", tags.CRITICAL),
    "严重": ("serious", tags.CRITICAL),
    "warn": ("warn", tags.WARNING),
    "warning": ("warn", tags.WARNING),
    "警告": ("warn", tags.WARNING),
    "remind": ("remind", tags.INFO),
    "提醒": ("remind", tags.INFO),
}
"""A graded policy's level (any case, English or Chinese) to its canonical word and the
normalised severity."""
UNGRADED = tags.WARNING
"""The severity of an alarm that carries no level (a policy without graded thresholds)."""
DISPLAY_DIMENSIONS = frozenset({"objName", "deviceName"})
"""Dimensions that name the object for people rather than identify it."""


def status(value: Any) -> AlertStatus:
    """`alarmStatus`: 1 (alarm) or 0 (recovered), as a number or a string."""
    if value is None:
        raise InputError("alarmStatus: required")
    if not isinstance(value, bool) and value in (1, "1"):
        return AlertStatus.FIRING
    if not isinstance(value, bool) and value in (0, "0"):
        return AlertStatus.RESOLVED
    raise InputError(f"alarmStatus: must be 1 (alarm) or 0 (recovered), got {value!r}")


def beijing_time(value: Any, where: str) -> datetime | None:
    """A callback time (``2021-04-19 17:09:42``, Beijing time) as an aware UTC datetime;
    ``"0"``, ``0``, an empty string and null mean "none"."""
    if value is None or (not isinstance(value, bool) and value in (0, *_NOT_YET)):
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: must be a time string, got {json_type(value)}")
    if not _LOCAL_TIME.fullmatch(value.strip()):
        raise InputError(f"{where}: must be a Beijing time like 2021-04-19 17:09:42, got {value!r}")
    try:
        local = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
        return local.replace(tzinfo=BEIJING).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InputError(f"{where}: not a valid time, got {value!r} ({exc})") from None


def level(word: str) -> tuple[str, str]:
    """The canonical word and normalised severity of a level; `("", UNGRADED)` for none, an
    unknown word kept as it is (lowercased) at the ungraded severity."""
    if not word:
        return "", UNGRADED
    return LEVELS.get(word.lower(), (word.lower(), UNGRADED))


def level_of_alert_id(alert_id: str) -> str:
    """The level a graded alarm's `alertId` ends with (``<sessionId>_Remind``), or `""`."""
    _, sep, suffix = alert_id.rpartition("_")
    return suffix if sep and suffix.lower() in LEVELS else ""


def policy_tags(value: Any, where: str) -> dict[str, str]:
    """The policy's tags as labels: an array of ``{"key": …, "value": …}`` (Tencent Cloud's
    tag shape, keys in any case) or an object of strings."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return tags.as_labels({k: scalar_string(v, join(where, k)) for k, v in value.items()})
    if not isinstance(value, list):
        raise InputError(f"{where}: must be an array of key/value objects, got {json_type(value)}")
    found: dict[str, str] = {}
    for index, item in enumerate(value):
        at = f"{where}[{index}]"
        pair = {k.lower(): v for k, v in require_object(item, at).items()}
        if pair.get("key") in (None, ""):
            raise InputError(f"{at}.key: required")
        key = scalar_string(pair["key"], f"{at}.key")
        found.setdefault(key, "" if pair.get("value") is None else text_field(pair, "value", at))
    return tags.as_labels(found)


def dimensions(value: Any, where: str) -> dict[str, str]:
    """The alarm object's scalar dimensions as strings (nested details such as an event's
    `objDetail` and null values are left out)."""
    if value is None:
        return {}
    dims = require_object(value, where)
    return {
        key: scalar_string(item, join(where, key))
        for key, item in dims.items()
        if item is not None and not isinstance(item, dict | list)
    }


def object_key(dims: Mapping[str, str]) -> str:
    """What identifies the alarm object: its dimensions but the display names, in order."""
    return ",".join(f"{k}={v}" for k, v in sorted(dims.items()) if k not in DISPLAY_DIMENSIONS)


def object_name(dims: Mapping[str, str]) -> str:
    """How a person knows the alarm object."""
    for key in ("objName", "deviceName", "unInstanceId", "objId", "uInstanceId", "InstanceId"):
        if dims.get(key):
            return dims[key]
    return object_key(dims)
