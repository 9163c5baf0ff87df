"""The neutral `Card` for a group robot, whose buttons can only open links. Pure.

The core gives each button a signed action link (`Button.url`) because the robot platform
declares ``buttons=False``. Two formats, chosen per robot:

- ``markdown`` (default): a heading coloured by tier, the fields, the body, and every button
  as a link; within WeCom's 4096 bytes (the body is cut first, the links are kept);
- ``text_notice``: a template card with the tier in large type and up to three links
  (WeCom's limit), one per kind of action first; tapping the card opens ``card_url`` or the
  first link. Without any link it falls back to markdown.

Alert text is made inert (``<@all>``, ``[x](url)`` and ``<font>`` show as typed).
"""

from __future__ import annotations

from typing import Any

from adapters.chat.wecom.render import (
    MAX_DESC,
    MAX_SUBTITLE,
    MAX_TITLE,
    fields,
    source,
    status_label,
)
from adapters.chat.wecom.text import cut, cut_bytes, one_line, plain, status_emoji, tier_emoji
from bot.model import ActionKind, Button, Card, Tier

MAX_MARKDOWN = 4096
MAX_TEXT = 2048
MAX_JUMPS = 3
MAX_JUMP_TITLE = 18
FONT = {Tier.P0: "warning", Tier.P1: "warning", Tier.P2: "comment", Tier.P3: "comment"}
"""WeCom markdown has three colours: info (green), comment (grey), warning (orange-red)."""
JUMP_ORDER = (
    ActionKind.ACK,
    ActionKind.UNACK,
    ActionKind.SILENCE,
    ActionKind.RESOLVE,
    ActionKind.ROLLBACK,
)

Message = dict[str, Any]


def robot_message(card: Card, lang: str, fmt: str, card_url: str | None = None) -> Message:
    """The webhook message showing `card` in the robot's format."""
    links = [b for b in card.buttons if b.url]
    if fmt == "text_notice" and (card_url or links):
        return {"msgtype": "template_card", "template_card": text_notice(card, lang, card_url)}
    return {"msgtype": "markdown", "markdown": {"content": markdown(card)}}


def markdown(card: Card) -> str:
    colour = "info" if card.status == "resolved" else FONT.get(card.tier or Tier.P3, "comment")
    tier = f"[{card.tier.value}] " if card.tier else ""
    head = [
        f'### {tier_emoji(card.tier)} <font color="{colour}">'
        f"{tier}{plain(one_line(card.title))}</font>",
        f"{status_emoji(card.status)} {plain(one_line(card.footer))}".rstrip(),
    ]
    head += [f"> **{plain(one_line(f.label))}**: {plain(one_line(f.value))}" for f in card.fields]
    links = "  ".join(f"[{plain(one_line(b.label))}]({b.url})" for b in card.buttons if b.url)
    tail = [links] if links else []
    fixed = len("\n".join(head + tail).encode()) + 2
    body = plain(card.body.strip())
    if body:
        body = cut_bytes(body, MAX_MARKDOWN - fixed - 2)
    content = "\n".join([*head, *([body] if body else []), *tail])
    return cut_bytes(content, MAX_MARKDOWN)


def text_notice(card: Card, lang: str, card_url: str | None) -> dict[str, Any]:
    jumps = jump_list(card.buttons)
    tier = f"[{card.tier.value}] " if card.tier else ""
    result: dict[str, Any] = {
        "card_type": "text_notice",
        "source": source(card),
        "main_title": {
            "title": cut(one_line(tier + card.title), MAX_TITLE) or card.ref,
            "desc": cut(one_line(f"{status_emoji(card.status)} {card.footer}"), MAX_DESC),
        },
        "emphasis_content": {
            "title": card.tier.value if card.tier else "-",
            "desc": cut(status_label(card, lang), 22),
        },
        "card_action": {"type": 1, "url": card_url or jumps[0]["url"]},
    }
    if card.body.strip():
        result["sub_title_text"] = cut(card.body.strip(), MAX_SUBTITLE)
    if card.fields:
        result["horizontal_content_list"] = fields(card)
    if jumps:
        result["jump_list"] = jumps
    return result


def jump_list(buttons: tuple[Button, ...]) -> list[dict[str, Any]]:
    """Up to three links, one per kind of action first, in a sensible order."""
    links = [b for b in buttons if b.url]
    chosen: list[Button] = []
    for kind in JUMP_ORDER:
        first = next((b for b in links if b.action is kind), None)
        if first is not None:
            chosen.append(first)
    chosen += [b for b in links if b not in chosen]
    return [
        {"type": 1, "title": cut(one_line(b.label), MAX_JUMP_TITLE), "url": b.url}
        for b in chosen[:MAX_JUMPS]
    ]


def text_message(text: str) -> Message:
    """A plain text message (no markup is interpreted), within WeCom's 2048 bytes."""
    return {"msgtype": "text", "text": {"content": cut_bytes(text, MAX_TEXT) or " "}}
