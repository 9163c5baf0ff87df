"""Incident states and the pure rules between them."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol


class Status(enum.StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Shown(Protocol):
    """What a card's status is read from: an `Incident`, or a row of the `incidents` table."""

    @property
    def status(self) -> str: ...
    @property
    def silenced_until(self) -> datetime | None: ...


class Posted(Protocol):
    """Where an incident's card is shown: an `Incident`, or a row of the `incidents` table."""

    @property
    def destinations(self) -> Sequence[str]: ...
    @property
    def page_destinations(self) -> Sequence[str] | None: ...


def display_status(row: Shown, now: datetime) -> str:
    """What a card shows: the status, or "silenced" while a silence runs on an open incident."""
    if row.status != Status.RESOLVED and row.silenced_until and row.silenced_until > now:
        return "silenced"
    return str(row.status)


def card_destinations(row: Posted) -> list[str]:
    """Every chat showing the incident's card: its route's chats and those it was paged to."""
    return [*row.destinations, *(row.page_destinations or ())]


def card_ref(incident_id: int) -> str:
    return f"incident:{incident_id}"


def parse_card_ref(ref: str) -> tuple[str, int]:
    kind, _, number = ref.partition(":")
    if (
        kind not in ("incident", "digest", "swap", "run", "review")
        or not (number.isascii() and number.isdigit())
        or not 1 <= int(number) <= 2**63 - 1  # ids are BIGINT
    ):
        raise ValueError(f"not a card reference: {ref[:80]!r}")
    return kind, int(number)
