"""Values that must fit a keyed column whatever their length."""

from __future__ import annotations

import hashlib

_HASH = 16


def bounded(value: str, limit: int) -> str:
    """`value` itself when it fits in `limit` characters, else its first characters, ``~`` and
    16 hex digits of its SHA-256: the same value always gives the same bounded form, and two
    values that differ anywhere give different ones."""
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:_HASH]
    return f"{value[: limit - _HASH - 1]}~{digest}"
