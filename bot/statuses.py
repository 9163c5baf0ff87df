"""One status vocabulary for every card: incidents, runs, drills, swaps, digests and reviews.

A card carries a status key (``triggered``, ``run.rolled_back`` …) and the `Badge` made from it
here: the word in the reader's language and a `Tone` that each platform shows in its own colours.
A key missing from `TONES` is a programming error (KeyError), so no card can show a raw key.
"""

from __future__ import annotations

from bot.i18n import t
from bot.model import Badge, Tone

TONES: dict[str, Tone] = {
    "triggered": Tone.ALERT,
    "acknowledged": Tone.WORKING,
    "silenced": Tone.MUTED,
    "resolved": Tone.GOOD,
    "run.awaiting_confirmation": Tone.WAITING,
    "run.awaiting_approval": Tone.WAITING,
    "run.queued": Tone.WORKING,
    "run.starting": Tone.WORKING,
    "run.running": Tone.WORKING,
    "run.cancelling": Tone.WORKING,
    "run.succeeded": Tone.GOOD,
    "run.verifying": Tone.WORKING,
    "run.verified": Tone.GOOD,
    "run.unverified": Tone.WAITING,
    "run.gate_failed": Tone.ALERT,
    "run.rolling_back": Tone.ALERT,
    "run.rolled_back": Tone.BAD,
    "run.failed": Tone.BAD,
    "run.cancelled": Tone.MUTED,
    "run.denied": Tone.BAD,
    "run.expired": Tone.MUTED,
    "drill.running": Tone.WORKING,
    "drill.passed": Tone.GOOD,
    "drill.failed": Tone.BAD,
    "swap.pending": Tone.WAITING,
    "swap.accepted": Tone.GOOD,
    "swap.declined": Tone.MUTED,
    "swap.expired": Tone.MUTED,
    "review.draft": Tone.WORKING,
}

EMOJI: dict[Tone, str] = {
    Tone.ALERT: "🚨",
    Tone.WAITING: "⏳",
    Tone.WORKING: "🔵",
    Tone.GOOD: "✅",
    Tone.BAD: "❌",
    Tone.MUTED: "🔕",
}
"""One mark per tone for platforms whose cards have no colour of their own (text, markdown)."""


def badge(key: str, lang: str) -> Badge:
    """The badge of status `key` in `lang`."""
    return Badge(t(f"status.{key}", lang), TONES[key])


def word(key: str, lang: str) -> str:
    return t(f"status.{key}", lang)
