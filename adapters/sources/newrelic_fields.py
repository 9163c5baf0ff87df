"""Readers for the fields of a New Relic workflow webhook, each naming its field on error.

A workflow's payload is a Handlebars template the user may edit, so the same variable arrives
in more than one shape: `{{ json accumulations.policyName }}` renders a list, `.[0]` a string,
a missing variable `null`; a timestamp is epoch milliseconds written bare or quoted. Each
reader takes the shapes that mean the same thing and refuses the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapters.sources._common import json_type, scalar_string, text_field, unix_time
from adapters.sources.tags import as_labels
from bot.errors import InputError

_LAST_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z in epoch milliseconds: the last moment a datetime can hold."""
_DIGITS = re.compile(r"[0-9]{1,18}")


def strings(body: Mapping[str, Any], key: str) -> list[str]:
    """`body[key]` as a list of non-empty strings: an array of scalars, one scalar, or
    nothing (missing or null)."""
    value = body.get(key)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    found = []
    for index, item in enumerate(items):
        if item is None:
            continue
        where = f"{key}[{index}]" if isinstance(value, list) else key
        if isinstance(item, dict | list):
            raise InputError(f"{where}: must be a string, got {json_type(item)}")
        text = scalar_string(item, where).strip()
        if text:
            found.append(text)
    return found


def first(body: Mapping[str, Any], key: str) -> str:
    """The first string of `body[key]` (see `strings`), or ``""``."""
    found = strings(body, key)
    return found[0] if found else ""


def text(body: Mapping[str, Any], key: str) -> str:
    """`body[key]` as a string (numbers and booleans written as JSON writes them), ``""``
    when missing or null."""
    return text_field(body, key, "")


def epoch_ms(body: Mapping[str, Any], key: str) -> datetime | None:
    """`body[key]`, epoch milliseconds (a number or a string of digits), as an aware UTC
    datetime; `None` when missing, null or empty."""
    value = body.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{key}: must be epoch milliseconds, got {json_type(value)}")
    if not 0 <= value <= _LAST_MS:
        raise InputError(f"{key}: {value!r} is not epoch milliseconds between 1970 and 9999")
    return unix_time(value, key, per_second=1000)


def tag_labels(body: Mapping[str, Any], key: str) -> dict[str, str]:
    """New Relic's accumulated tags (`accumulations.tag`: each tag name to the list of its
    values over the issue's incidents) as labels, each keeping its first value: the value
    of the issue's first incident, which later incidents do not change."""
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{key}: must be an object of tag names to values, got {json_type(value)}")
    firsts: dict[str, str] = {}
    for name, values in value.items():
        where = f"{key}.{name}"
        items = values if isinstance(values, list) else [values]
        for item in items:
            if isinstance(item, dict | list):
                raise InputError(f"{where}: must be an array of strings, got {json_type(item)}")
        found = [scalar_string(item, where).strip() for item in items if item is not None]
        found = [item for item in found if item]
        if found:
            firsts[name] = found[0]
    return as_labels(firsts)
