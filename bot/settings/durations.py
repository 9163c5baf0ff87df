"""Human durations in settings and commands: ``90s``, ``30m``, ``2h``, ``1d``, ``1h30m``.

A command may say ``90`` for 90 seconds; a setting (`Duration`) must name its unit, since
``delay: 10`` could mean seconds or minutes: only zero (``0``) goes without one."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse ``1h30m`` style text; raise ValueError with a readable message otherwise."""
    cleaned = text.strip().lower().replace(" ", "")
    if cleaned.isdigit():
        return timedelta(seconds=int(cleaned))
    pos, seconds = 0, 0.0
    for match in _PART.finditer(cleaned):
        if match.start() != pos:
            break
        seconds += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(cleaned) or not cleaned:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, 1d)")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out) or "0s"


def parse_setting(value: Any) -> Any:
    """A setting's duration: text with a unit (``10m``), or zero; a bare number is refused."""
    bare = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(value, str) and value.strip().isdigit():
        bare, value = True, int(value.strip())
    if bare:
        if value == 0:
            return timedelta(0)
        whole = isinstance(value, int) and 0 < value < 10_000
        raise ValueError(f'"{value}" needs a unit, e.g. {value if whole else 10}m, 30s, 1h')
    if isinstance(value, str):
        return parse_duration(value)
    return value


Duration = Annotated[
    timedelta, BeforeValidator(parse_setting), PlainSerializer(format_duration, return_type=str)
]
