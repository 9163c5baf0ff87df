"""Reading the old tool's JSON: each reader names the path of what it found wrong, so a
surprise in an export is an `ImportFailed` that says where, never a KeyError."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.migrate.reader import ImportFailed


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ImportFailed(f"{where}: expected an object, found {_kind(value)}")
    return value


def arr(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ImportFailed(f"{where}: expected a list, found {_kind(value)}")
    return value


def text(parent: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    """A string field; missing or null gives `default` when one is given."""
    value = parent.get(key)
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise ImportFailed(f"{where}.{key}: expected text, found {_kind(value)}")
    return value


def number(parent: dict[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = parent.get(key)
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ImportFailed(f"{where}.{key}: expected a whole number, found {_kind(value)}")
    return int(value)


def when(value: Any, where: str) -> datetime:
    """An ISO 8601 time, with an offset (``Z``, ``+08:00``) or without (a wall time)."""
    if not isinstance(value, str):
        raise ImportFailed(f"{where}: expected a time, found {_kind(value)}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ImportFailed(f"{where}: not an ISO 8601 time: {value!r}") from None


def instant(value: Any, where: str) -> datetime:
    """An ISO 8601 time with an offset as an aware datetime."""
    parsed = when(value, where)
    if parsed.tzinfo is None:
        raise ImportFailed(f"{where}: the time {value!r} has no offset")
    return parsed


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false"}
    return names.get(type(value), f"a {type(value).__name__}") + (
        f" ({value!r})" if isinstance(value, str | int | float) and len(repr(value)) < 40 else ""
    )
