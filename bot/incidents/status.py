"""Incident states and the pure rules between them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any


class Status(enum.StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


def display_status(row: Any, now: datetime) -> str:
    """What a card shows: the status, or "silenced" while a silence runs on an open incident."""
    if row.status != Status.RESOLVED and row.silenced_until and row.silenced_until > now:
        return "silenced"
    return str(row.status)


def card_destinations(row: Any) -> list[str]:
    """Every chat showing the incident's card: its route's chats and those it was paged to."""
    return [*row.destinations, *(row.page_destinations or ())]


def card_ref(incident_id: int) -> str:
    return f"incident:{incident_id}"


def parse_card_ref(ref: str) -> tuple[str, int]:
    kind, _, number = ref.partition(":")
    if (
        kind not in ("incident", "digest", "swap", "run")
        or not (number.isascii() and number.isdigit())
        or not 1 <= int(number) <= 2**63 - 1  # ids are BIGINT
    ):
        raise ValueError(f"not a card reference: {ref[:80]!r}")
    return kind, int(number)
