"""Reply codes: a short code per phone page, so that an answer names the page it answers.

A page's code is three letters (no I or O, which read as 1 and 0) derived from its id and
scattered, so pages sent one after another get unrelated codes and a mistyped code rarely
names another recent page of the same person. ``1`` acknowledges the latest page to the
number, ``1KQD`` the page whose code is KQD (an older page's incident, not a newer one's);
``2`` / ``2KQD`` escalate. Codes repeat every 13,824 pages; a reply is only ever matched against
the pages sent to its number within `paging.link_ttl`, so a repeat there is the only clash.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 3
SPACE = len(ALPHABET) ** LENGTH
_SCATTER = 7919
"""Coprime with `SPACE` (2^9 · 3^3), so every id in a run of `SPACE` gets its own code."""
_REPLY = re.compile(rf"^([12])\s*([{ALPHABET}]{{{LENGTH}}})?$")
ACTIONS: dict[str, Literal["ack", "escalate"]] = {"1": "ack", "2": "escalate"}


def code(page_id: int) -> str:
    """The reply code of page `page_id`."""
    n = (page_id * _SCATTER) % SPACE
    letters = []
    for _ in range(LENGTH):
        n, digit = divmod(n, len(ALPHABET))
        letters.append(ALPHABET[digit])
    return "".join(reversed(letters))


@dataclass(frozen=True, slots=True)
class Asked:
    """What a reply asks: an action, and the code of the page it answers (None: the latest)."""

    action: Literal["ack", "escalate"]
    code: str | None = None


def parse(text: str) -> Asked | None:
    """What an SMS reply or keypress asks, or None when it is not an answer. Full-width
    digits and letters, spaces and case do not matter (``1 kqd``, ``１ＫＱＤ``)."""
    words = unicodedata.normalize("NFKC", text).strip().upper()
    found = _REPLY.match(re.sub(r"\s+", " ", words))
    if found is None:
        return None
    return Asked(ACTIONS[found.group(1)], found.group(2))
