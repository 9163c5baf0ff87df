"""Reading single fields of a Nightingale alert event, each naming its path when it is wrong.

Nightingale serialises a Go struct, so its numbers are JSON numbers and its texts JSON strings;
a number where a text is expected is written as a string (harmless), anything else is an error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.sources import tags
from adapters.sources._common import join, json_type, scalar_string, text_field, unix_time
from bot.errors import InputError

SEVERITY_WORDS = {"1": "Critical", "2": "Warning", "3": "Info"}
"""Nightingale's levels as its UI names them (一级 / 二级 / 三级告警)."""
LEVELS = {"1": tags.CRITICAL, "2": tags.WARNING, "3": tags.INFO}
"""Nightingale's level to the normalised severity; any other level counts as `warning`."""


def required_text(event: dict[str, Any], key: str, where: str, what: str) -> str:
    """`event[key]` as a non-empty string."""
    value = text_field(event, key, where)
    if not value:
        raise InputError(f"{join(where, key)}: required ({what})")
    return value


def flag(event: dict[str, Any], key: str, where: str) -> bool:
    """`event[key]`, a required JSON boolean."""
    value = event.get(key)
    if value is None:
        raise InputError(f"{join(where, key)}: required (true or false)")
    if not isinstance(value, bool):
        raise InputError(f"{join(where, key)}: must be true or false, got {json_type(value)}")
    return value


def severity(event: dict[str, Any], where: str) -> tuple[str, str]:
    """`(normalised severity, Nightingale's level as sent)` of the event's `severity`."""
    value = event.get("severity")
    path = join(where, "severity")
    if value is None:
        raise InputError(f"{path}: required (1, 2 or 3)")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(f"{path}: must be a number (1, 2 or 3), got {json_type(value)}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    level = scalar_string(value, path).strip()
    return LEVELS.get(level, tags.WARNING), level


def moment(event: dict[str, Any], key: str, where: str) -> datetime | None:
    """`event[key]`, unix seconds, as an aware UTC datetime; missing, null or 0 is `None`."""
    value = event.get(key)
    path = join(where, key)
    if isinstance(value, bool) or not isinstance(value, int | float | None):
        raise InputError(f"{path}: must be unix seconds (a number), got {json_type(value)}")
    if value is None or value == 0:
        return None
    return unix_time(value, path)


def tag_list(value: Any, where: str) -> list[str]:
    """`tags`, an array of ``key=value`` strings (null is none)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{where}: must be an array of strings, got {json_type(value)}")
    return [scalar_string(item, f"{where}[{index}]") for index, item in enumerate(value)]
