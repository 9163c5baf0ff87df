"""The neutral `Card` for a group robot, whose buttons can only open links. Pure.

The core gives each button a signed action link (`Button.url`) because the robot platform
declares ``buttons=False``. Two formats, chosen per robot:

- ``markdown`` (default): a heading coloured by tier (by the badge's tone once the card has
  ended), the badge in its tone's colour with the footer, the fields, the body, the sections
  (bold title, lines, ☐ / ☑ for checklists), then every button and every link of the card as a
  link; within WeCom's 4096 bytes (body and sections are cut first, the links are kept);
- ``text_notice``: a template card with the tier in large type and the badge word, and up to
  three links (WeCom's limit): one per kind of action first, then the card's links; tapping the
  card opens ``card_url`` or the first link. Without any link it falls back to markdown.

Alert text is made inert (``<@all>``, ``[x](url)`` and ``<font>`` show as typed).
"""

from __future__ import annotations

import re
from typing import Any

from adapters.chat.cardparts import badge_of, line_text, links_of
from adapters.chat.wecom.render import (
    ENDED,
    MAX_DESC,
    MAX_TITLE,
    MAX_URL,
    badge_text,
    fields,
    source,
    status_label,
    sub_title,
)
from adapters.chat.wecom.text import cut, cut_bytes, one_line, plain, tier_emoji
from bot.model import ActionKind, Button, Card, Link, Tier, Tone
from bot.statuses import EMOJI

MAX_MARKDOWN = 4096
MAX_TEXT = 2048
MAX_JUMPS = 3
MAX_JUMP_TITLE = 18
FONT = {Tier.P0: "warning", Tier.P1: "warning", Tier.P2: "comment", Tier.P3: "comment"}
"""WeCom markdown has three colours: info (green), comment (grey), warning (orange-red)."""
TONE_FONT = {
    Tone.ALERT: "warning",
    Tone.WAITING: "warning",
    Tone.WORKING: "comment",
    Tone.GOOD: "info",
    Tone.BAD: "warning",
    Tone.MUTED: "comment",
}
JUMP_ORDER = (
    ActionKind.ACK,
    ActionKind.UNACK,
    ActionKind.SILENCE,
    ActionKind.RESOLVE,
    ActionKind.ROLLBACK,
)

Message = dict[str, Any]
_MENTIONABLE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
"""A WeCom userid as `<@…>` takes it: anything else could end the tag early."""


def robot_message(card: Card, lang: str, fmt: str, card_url: str | None = None) -> Message:
    """The webhook message showing `card` in the robot's format. A card that @-mentions
    people (`Card.mentions`, userids) is markdown whatever the format, since a template card
    cannot mention: ``<@userid>`` after the card, within the 4096 bytes."""
    links = [b for b in card.buttons if b.url] + links_of(card, MAX_URL)
    if fmt == "text_notice" and (card_url or links) and not card.mentions:
        return {"msgtype": "template_card", "template_card": text_notice(card, lang, card_url)}
    if card.mentions:
        tail = "\n" + " ".join(f"<@{who}>" for who in card.mentions if _MENTIONABLE.fullmatch(who))
        content = cut_bytes(markdown(card, lang), MAX_MARKDOWN - len(tail.encode())) + tail
        return {"msgtype": "markdown", "markdown": {"content": content}}
    return {"msgtype": "markdown", "markdown": {"content": markdown(card, lang)}}


def markdown(card: Card, lang: str = "en") -> str:
    badge = badge_of(card, lang)
    if badge is not None and (card.tier is None or badge.tone in ENDED):
        colour = TONE_FONT[badge.tone]
    else:
        colour = FONT.get(card.tier or Tier.P3, "comment")
    tier = f"[{card.tier.value}] " if card.tier else ""
    shown = (
        f'<font color="{TONE_FONT[badge.tone]}">{EMOJI[badge.tone]} '
        f"{plain(one_line(badge.word))}</font>"
        if badge
        else ""
    )
    status = " · ".join(part for part in (shown, plain(one_line(card.footer))) if part)
    head = [
        f'### {tier_emoji(card.tier)} <font color="{colour}">'
        f"{tier}{plain(one_line(card.title))}</font>",
        *([status] if status else []),
    ]
    head += [f"> **{plain(one_line(f.label))}**: {plain(one_line(f.value))}" for f in card.fields]
    targets = [(b.label, b.url) for b in card.buttons if b.url]
    targets += [(link.label, link.url) for link in links_of(card, MAX_URL)]
    links = "  ".join(f"[{plain(one_line(label))}]({_href(url)})" for label, url in targets)
    tail = [links] if links else []
    fixed = len("\n".join(head + tail).encode()) + 2
    middle = "\n".join(part for part in (plain(card.body.strip()), _sections(card)) if part)
    if middle:
        middle = cut_bytes(middle, MAX_MARKDOWN - fixed - 2)
    content = "\n".join([*head, *([middle] if middle else []), *tail])
    return cut_bytes(content, MAX_MARKDOWN)


def _sections(card: Card) -> str:
    lines: list[str] = []
    for section in card.sections:
        if section.title.strip():
            lines.append(f"**{plain(one_line(section.title))}**")
        lines += [plain(line_text(line)) for line in section.lines]
    return "\n".join(lines)


def _href(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29")


def text_notice(card: Card, lang: str, card_url: str | None) -> dict[str, Any]:
    jumps = jump_list(card.buttons, links_of(card, MAX_URL))
    tier = f"[{card.tier.value}] " if card.tier else ""
    desc = " · ".join(part for part in (badge_text(card, lang), one_line(card.footer)) if part)
    result: dict[str, Any] = {
        "card_type": "text_notice",
        "source": source(card, lang),
        "main_title": {
            "title": cut(one_line(tier + card.title), MAX_TITLE) or card.ref,
            "desc": cut(desc, MAX_DESC),
        },
        "emphasis_content": {
            "title": card.tier.value if card.tier else "-",
            "desc": cut(status_label(card, lang), 22),
        },
        "card_action": {"type": 1, "url": card_url or jumps[0]["url"]},
    }
    text = sub_title(card)
    if text:
        result["sub_title_text"] = text
    if card.fields:
        result["horizontal_content_list"] = fields(card)
    if jumps:
        result["jump_list"] = jumps
    return result


def jump_list(buttons: tuple[Button, ...], links: list[Link] | None = None) -> list[dict[str, Any]]:
    """Up to three links: one per kind of action first, in a sensible order, then the other
    action links, then the card's own links."""
    actions = [b for b in buttons if b.url]
    chosen: list[Button] = []
    for kind in JUMP_ORDER:
        first = next((b for b in actions if b.action is kind), None)
        if first is not None:
            chosen.append(first)
    chosen += [b for b in actions if b not in chosen]
    targets = [(b.label, b.url or "") for b in chosen]
    targets += [(link.label, link.url) for link in links or ()]
    return [
        {"type": 1, "title": cut(one_line(label), MAX_JUMP_TITLE) or "-", "url": url}
        for label, url in targets[:MAX_JUMPS]
    ]


def text_message(text: str) -> Message:
    """A plain text message (no markup is interpreted), within WeCom's 2048 bytes."""
    return {"msgtype": "text", "text": {"content": cut_bytes(text, MAX_TEXT) or " "}}
