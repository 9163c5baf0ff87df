"""A review's follow-up checklist, made from its facts in the reader's language. The same list,
in the default language, is what becomes tracked items (`bot.reviews.followups`) when the review
is written; the card shows each item again in its reader's language by its position."""

from __future__ import annotations

from bot.i18n import t
from bot.reviews.facts import Facts

FOLLOW = ("review.follow.cause", "review.follow.test", "review.follow.gate", "review.follow.fix")
"""What a rollback's review asks to follow up, in order."""


def follow_items(facts: Facts, lang: str) -> tuple[str, ...]:
    """The follow-up items of the review of `facts`: none for a drill that passed."""
    if facts.drill is None:
        version = facts.rollback.previous or "?"
        return tuple(t(key, lang, version=version) for key in FOLLOW)
    if facts.rollback.state == "succeeded":
        return ()
    names = {"service": facts.service, "environment": facts.environment}
    return (
        t("review.follow.drill_rollback", lang, **names, version=facts.rollback.version),
        t("review.follow.drill_again", lang, service=facts.service),
    )
