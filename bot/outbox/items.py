"""What the outbox worker reads: a queued message, and where a card was posted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Queued:
    """One row of `bot.store.tables.outbox` as a delivery pass claimed it."""

    id: int
    destination: str
    kind: str
    """``card`` (render `card_ref` now, post or update it) or ``text`` (`payload`)."""
    card_ref: str
    payload: dict[str, Any]
    attempts: int

    @classmethod
    def of(cls, row: Any) -> Queued:
        return cls(row.id, row.destination, row.kind, row.card_ref, dict(row.payload), row.attempts)


@dataclass(frozen=True, slots=True)
class Posted:
    """Where a card was posted in one chat (`bot.store.tables.card_posts`): the platform's
    reference to update it in place (or the digest it folded into), and the status it shows."""

    ref: dict[str, Any]
    shown: str

    @classmethod
    def of(cls, row: Any) -> Posted:
        return cls(dict(row.ref), row.shown)
