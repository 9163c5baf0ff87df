"""The words of an `am_silences` row: its origins, its states, and the comment Tocsin writes.

    pending ──created──► active ──Unsilence / a new silence──► expiring ──expired──► expired
       │                   └──────────── its end passes ─────────────────────────────┘
       └──refused──► failed

A pending or expiring row is due (`due_at`) for the silence pass; while a replica calls
Alertmanager for it, `due_at` is that replica's lease.
"""

from __future__ import annotations

TOCSIN = "tocsin"
"""Asked for here (a card's Silence button or /silence)."""
ALERTMANAGER = "alertmanager"
"""Found there: made in Alertmanager's UI or with amtool, matching an incident's alerts."""

PENDING = "pending"
ACTIVE = "active"
EXPIRING = "expiring"
EXPIRED = "expired"
FAILED = "failed"

DUE = (PENDING, EXPIRING)
"""States the silence pass calls Alertmanager for."""
SHOWN = (PENDING, ACTIVE, FAILED)
"""States a silenced incident's card shows."""

COMMENT_PREFIX = "Tocsin #"
TITLE_CHARS = 200


def comment_for(incident_id: int, title: str, public_url: str) -> str:
    """What a silence Tocsin makes says in Alertmanager: whose incident, and where Tocsin is.
    (Together with its matchers and end, it is how a retry recognises its own silence.)"""
    return f"{COMMENT_PREFIX}{incident_id} {title[:TITLE_CHARS]} — {public_url.rstrip('/')}"


def made_by_tocsin(comment: str) -> bool:
    """Whether a silence found in Alertmanager is one Tocsin made."""
    return comment.startswith(COMMENT_PREFIX)
