"""When a heartbeat is missing, and what the pass does about a row: pure functions of `now`."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from bot.settings.watch import Heartbeat


class State(enum.StrEnum):
    WAITING = "waiting"
    """Configured, never beaten."""
    OK = "ok"
    MISSING = "missing"


class Move(enum.Enum):
    OPEN = "open"
    """No beat for interval + grace: the row goes missing."""
    CLOSE = "close"
    """A missing heartbeat beat again."""


@dataclass(frozen=True, slots=True)
class Row:
    """A `heartbeats` row as the pass reads it."""

    name: str
    state: State
    last_seen_at: datetime | None
    last_via: str
    beats: int
    missing_since: datetime | None
    created_at: datetime


def deadline(beat: Heartbeat, row: Row) -> datetime:
    """When the heartbeat is missing unless it beats before: interval + grace after its last
    beat, or after Tocsin first knew of it when it never beat."""
    return (row.last_seen_at or row.created_at) + beat.interval + beat.grace


def move(beat: Heartbeat, row: Row, now: datetime) -> Move | None:
    """What the pass does with `row` at `now`, if anything."""
    if row.state == State.MISSING:
        back = row.last_seen_at is not None and (
            row.missing_since is None or row.last_seen_at > row.missing_since
        )
        return Move.CLOSE if back else None
    return Move.OPEN if now >= deadline(beat, row) else None
