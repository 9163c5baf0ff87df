"""What an incident's transition asks the world to do, as data.

A transition decides; whoever saves the incident carries these out in the same transaction, so
a change and its effects are committed (or rolled back) together. Escalation needs no event:
its passes follow the stored status (a triggered episode is paged, any other is not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RefreshCard:
    """Update every card of the incident in place, now."""


@dataclass(frozen=True, slots=True)
class RefreshCardAt:
    """Update the cards a moment later (`at`): more alerts of the group may follow."""

    at: datetime


@dataclass(frozen=True, slots=True)
class Announce:
    """A catalogue text to the incident's chats, threaded under its card."""

    key: str
    params: dict[str, object] = field(default_factory=dict)


Event = RefreshCard | RefreshCardAt | Announce
