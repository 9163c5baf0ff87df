"""Helpers for tests of what a reader sees: the visible text of a card, and the English words
left in a Chinese one."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.model import Card

_WORD = re.compile(r"(?<![0-9A-Za-z])[A-Za-z][A-Za-z0-9_.\-/:]*")
"""An ASCII word; a token that starts with a digit (``30m``, ``v1.4.2``'s tail) is none."""


def visible_text(card: Card) -> str:
    """Everything a reader sees on `card` (not link targets nor button values)."""
    parts = [card.title, card.body, card.footer]
    parts += [f"{f.label} {f.value}" for f in card.fields]
    parts += [b.label for b in card.buttons] + [b.confirm or "" for b in card.buttons]
    parts += [link.label for link in card.links]
    for section in card.sections:
        parts += [section.title, *section.lines]
    if card.badge is not None:
        parts.append(card.badge.word)
    return "\n".join(parts)


def english_words(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """The ASCII words of `text` that are not in `allowed` (names, versions, ids, products)
    nor tier names such as P0."""
    allow = {a.casefold() for a in allowed}
    return [
        w
        for w in _WORD.findall(text)
        if w.casefold() not in allow and not re.fullmatch(r"P[0-3]", w)
    ]
