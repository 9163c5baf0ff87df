"""Reviews of rollbacks: the facts kept when a rollback ends (`facts`, `gather`), the card made
from them in each reader's language (`card`, `timeline`), and that card as a document
(`markdown`). A drill's rollback gets a drill report instead of a root-cause draft.

Its follow-up checklist (`checklist`) is tracked item by item until done (`followups`, marked
through `desk` from the card's buttons or `/review`); reviews left open are what `stale` finds;
`similar` links an incident's card to the past incidents like it and their reviews."""

from bot.reviews.card import REF, review_card, review_ref
from bot.reviews.facts import Facts
from bot.reviews.markdown import to_markdown, to_text
from bot.reviews.store import Stored, find, keep, render

__all__ = [
    "REF",
    "Facts",
    "Stored",
    "find",
    "keep",
    "render",
    "review_card",
    "review_ref",
    "to_markdown",
    "to_text",
]
