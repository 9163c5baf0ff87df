"""What every renderer reads the same way from a `Card`: its badge, its links, its checklists.

- `badge_of`: the card's badge; a card stored before cards carried one gets the badge of its
  status key when the key is in the vocabulary (`bot.statuses`), and none otherwise, so a raw
  key is never shown.
- `links_of`: the links a reader may open: ``http://`` and ``https://`` only, with a host, no
  spaces or control characters, and within the platform's URL length.
- `line_text`: a section line as shown, with ``[ ] `` / ``[x] `` as ☐ / ☑.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.model import Badge, Card, Link
from bot.statuses import TONES, badge

UNCHECKED = "☐"
CHECKED = "☑"
_MARKS = {"[ ] ": UNCHECKED, "[x] ": CHECKED, "[X] ": CHECKED}


def badge_of(card: Card, lang: str) -> Badge | None:
    """The badge to show on `card`, or None when there is nothing a reader should see."""
    if card.badge is not None:
        return card.badge
    if card.status in TONES:
        return badge(card.status, lang)
    return None


def is_web_url(url: str, max_length: int = 2_000) -> bool:
    """Whether `url` is an ``http(s)`` address safe to put behind a button or a link."""
    if not url or len(url) > max_length or any(c.isspace() or ord(c) < 32 for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def links_of(card: Card, max_url: int = 2_000) -> list[Link]:
    """The card's links a platform may show, in order (a link without a label is labelled
    with its address); anything else is dropped."""
    return [
        Link(link.label.strip() or link.url, link.url)
        for link in card.links
        if is_web_url(link.url, max_url)
    ]


def line_text(line: str) -> str:
    """A section line as shown: a checklist item starts with ☐ or ☑."""
    for prefix, mark in _MARKS.items():
        if line.startswith(prefix):
            return f"{mark} {line[len(prefix) :]}"
    return line
