"""Validation helpers shared by the alert-source parsers.

Every helper takes `where`, the path of the value in the payload (``alerts[2].labels``), and
raises `InputError` naming it, so a sender learns exactly which field to fix.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

from bot.alerts.batch import Parsed, Rejected
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import InputError
from bot.web.alerts import decode_json

_RFC3339 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<off_hour>[0-9]{2}):(?P<off_minute>[0-5][0-9]))"
)
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""Go's zero `time.Time`, which Alertmanager and Grafana send as `endsAt` for "not ended"."""


def join(where: str, key: str) -> str:
    """The path of `key` inside the value at `where` (`where` is empty at the top level)."""
    return f"{where}.{key}" if where else key


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def require_object(value: Any, where: str) -> dict[str, Any]:
    """`value` itself, checked to be a JSON object."""
    if not isinstance(value, dict):
        raise InputError(f"{where}: must be a JSON object, got {json_type(value)}")
    return value


def alert_items(body: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """`(path, item)` for each item of `body["alerts"]`, which must be an array."""
    alerts = body.get("alerts")
    if alerts is None:
        raise InputError("alerts: required")
    if not isinstance(alerts, list):
        raise InputError(f"alerts: must be an array, got {json_type(alerts)}")
    for index, alert in enumerate(alerts):
        yield f"alerts[{index}]", alert


def each_alert(
    body: Mapping[str, Any], parse_one: Callable[[dict[str, Any], str], AlertEvent]
) -> Parsed:
    """`parse_one(alert, path)` for each item of `body["alerts"]`. An item that is not an
    object or that `parse_one` refuses is rejected alone; the others are kept."""
    parsed = Parsed()
    for where, item in alert_items(body):
        try:
            parsed.events.append(parse_one(require_object(item, where), where))
        except InputError as exc:
            parsed.rejected.append(_rejected(item, where, str(exc)))
    return parsed


def _rejected(item: Any, where: str, error: str) -> Rejected:
    """What can be told of a refused alert, for the sender to find it."""
    fingerprint = name = ""
    if isinstance(item, dict):
        if isinstance(item.get("fingerprint"), str):
            fingerprint = item["fingerprint"][:128]
        labels = item.get("labels")
        if isinstance(labels, dict) and isinstance(labels.get("alertname"), str):
            name = labels["alertname"][:128]
        elif isinstance(item.get("name"), str):
            name = item["name"][:128]
    return Rejected(where, "malformed", error, fingerprint, name)


def scalar_string(value: Any, where: str) -> str:
    """A string, or a number or boolean written as JSON writes it; anything else is an error."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise InputError(f"{where}: must be a string, got {json_type(value)}")


def optional_str(obj: Mapping[str, Any], key: str, where: str) -> str:
    """`obj[key]` when it is a string, `""` when missing or null."""
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{join(where, key)}: must be a string, got {json_type(value)}")
    return value


def text_field(obj: Mapping[str, Any], key: str, where: str) -> str:
    """`obj[key]` as a trimmed string, numbers and booleans written as JSON writes them;
    `""` when missing or null. Anything else is an error naming the field."""
    value = obj.get(key)
    return "" if value is None else scalar_string(value, join(where, key)).strip()


def object_field(
    obj: Mapping[str, Any], key: str, where: str, *, required: bool = False
) -> dict[str, Any]:
    """`obj[key]`, a JSON object; missing or null gives `{}` unless `required`."""
    value = obj.get(key)
    if value is None:
        if required:
            raise InputError(f"{join(where, key)}: required")
        return {}
    return require_object(value, join(where, key))


def unix_time(number: float, where: str, *, per_second: int = 1) -> datetime:
    """`number` seconds (or, with `per_second=1000`, milliseconds) since the epoch as an aware
    UTC datetime; a number no datetime can hold is an error naming the field."""
    try:
        return datetime.fromtimestamp(number / per_second, UTC)
    except (OverflowError, OSError, ValueError):
        raise InputError(f"{where}: not a time that can be represented, got {number!r}") from None


def string_map(value: Any, where: str, *, required: bool = False) -> dict[str, str]:
    """A label or annotation set: an object whose values are scalars, coerced to strings.

    Missing or null gives `{}` unless `required`. Nested objects, arrays and null values are
    rejected rather than flattened, since no flattening would match what the sender meant.
    """
    if value is None:
        if required:
            raise InputError(f"{where}: required")
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{where}: must be an object of strings, got {json_type(value)}")
    if all(type(item) is str for item in value.values()):
        return dict(value)  # the usual case: already strings
    result: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, dict | list) or item is None:
            raise InputError(f"{where}: must be an object of strings, {key!r} is {json_type(item)}")
        result[key] = scalar_string(item, join(where, key))
    return result


def parse_status(value: Any, where: str) -> AlertStatus:
    """`"firing"` or `"resolved"`."""
    if value is None:
        raise InputError(f"{where}: required")
    try:
        return AlertStatus(value)
    except ValueError:
        raise InputError(f'{where}: must be "firing" or "resolved", got {value!r}') from None


def parse_time(value: Any, where: str) -> datetime | None:
    """An RFC 3339 timestamp as an aware UTC datetime; null and Go's zero time give `None`.

    Fractions finer than microseconds (Alertmanager sends nanoseconds) are truncated.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: must be an RFC 3339 timestamp string, got {json_type(value)}")
    try:
        return _moment(value)
    except _BadTime as exc:
        raise InputError(f"{where}: {exc}") from exc.__cause__


class _BadTime(ValueError):
    pass


@functools.lru_cache(maxsize=8192)
def _moment(value: str) -> datetime | None:
    """The moment `value` names. Cached: senders re-deliver the same alerts every few
    minutes, so the same timestamps come again and again."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise _BadTime(f"must be an RFC 3339 timestamp like 2026-01-05T03:00:00Z, got {value!r}")
    offset = timedelta(0)
    if match["sign"]:
        offset = timedelta(hours=int(match["off_hour"]), minutes=int(match["off_minute"]))
        if match["sign"] == "-":
            offset = -offset
    try:
        moment = datetime.fromisoformat(match["date"]).replace(
            hour=int(match["hour"]),
            minute=int(match["minute"]),
            second=int(match["second"]),
            microsecond=int((match["fraction"] or "0")[:6].ljust(6, "0")),
            tzinfo=timezone(offset),
        )
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise _BadTime(f"not a valid timestamp, got {value!r} ({exc})") from exc
    return None if moment == _ZERO_TIME else moment


def decode_form_or_json(body: bytes, content_type: str) -> Any:
    """A form body (``application/x-www-form-urlencoded``) as an object of strings, a field
    sent twice keeping its first value; any other body as JSON."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return decode_json(body, content_type)
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise InputError(f"form body is not UTF-8: {exc}") from None
    form: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        form.setdefault(key, value)
    return form
