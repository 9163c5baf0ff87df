"""The neutral `Card` as a Block Kit message. Pure functions, no I/O.

Layout (top to bottom)::

    header    🔴 [P0] HighErrorRate · orders          tier emoji: P0 red … P3 white
    context   🚨 *Triggered* · P0 · Incident #7 · ops  tone emoji and badge word, tier, footer
    section   fields, two columns (10 per section)
    section   body
    section   each of the card's sections: bold title, its lines (☐ / ☑ for checklists)
    actions   buttons, then the card's links as URL buttons (25 per block); Rollback with a
              confirm dialog

Every button's ``action_id`` is ``tocsin:<action>:<n>`` (unique in the message) and its ``value``
is compact JSON ``{"r": card ref, "a": action, "v": value}``, read back by `parse_value`. Link-only
buttons (``Button.url``) become URL buttons with ``tocsin:link:<n>``. Text from alerts is escaped
(``&``, ``<``, ``>``) so an alert cannot ping ``<!channel>``, and every text is cut to Slack's
limits without splitting an escape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.chat.cardparts import badge_of, line_text, links_of
from adapters.edge import buttons
from adapters.edge.buttons import ButtonValue
from bot.i18n import t
from bot.model import Button, ButtonStyle, Card, Link, Section, Tier, Tone

ACTION_PREFIX = "tocsin:"
LINK_ACTION = "link"

MAX_BLOCKS = 50
MAX_ACTIONS = 25
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_CONTEXT = 2000
MAX_BUTTON_TEXT = 75
MAX_VALUE = 2000
MAX_URL = 3000
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30
MAX_FALLBACK = 3000
"""Slack takes far longer `text`, but notifications show only the start."""

TIER_EMOJI = {
    Tier.P0: ":red_circle:",
    Tier.P1: ":large_orange_circle:",
    Tier.P2: ":large_yellow_circle:",
    Tier.P3: ":white_circle:",
}
NO_TIER_EMOJI = ":large_blue_circle:"
TONE_EMOJI = {
    Tone.ALERT: ":rotating_light:",
    Tone.WAITING: ":hourglass_flowing_sand:",
    Tone.WORKING: ":large_blue_circle:",
    Tone.GOOD: ":white_check_mark:",
    Tone.BAD: ":x:",
    Tone.MUTED: ":mute:",
}
"""The badge's tone in the context line (Block Kit text has no colours)."""
NO_BADGE_EMOJI = ":information_source:"

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """What `chat.postMessage` / `chat.update` take: notification text and blocks."""

    text: str
    blocks: list[Block]


def render_card(card: Card, lang: str = "en") -> Message:
    """The Block Kit message showing `card`."""
    head: list[Block] = [_header(card), _context(card, lang)]
    middle = _field_sections(card) + _body_sections(card.body) + _card_sections(card.sections)
    tail = _action_blocks(card, lang)
    room = MAX_BLOCKS - len(head) - len(tail)
    blocks = (head + middle[: max(room, 0)] + tail)[:MAX_BLOCKS]
    return Message(text=fallback_text(card), blocks=blocks)


def fallback_text(card: Card) -> str:
    """The notification line: ``[P1] payment-api error rate > 5%``."""
    prefix = f"[{card.tier.value}] " if card.tier else ""
    return mrkdwn(prefix + card.title, MAX_FALLBACK) or card.ref


def action_id(action: str, index: int) -> str:
    return f"{ACTION_PREFIX}{action}:{index}"


def parse_value(raw: object) -> ButtonValue | None:
    """The value this module put on a button, or None for anything else (old or foreign
    buttons); the codec is `adapters.edge.buttons`."""
    return buttons.decode(raw, MAX_VALUE)


# -- text -------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Slack's three control characters as entities, so text shows as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, ending with … when shortened."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def mrkdwn(text: str, limit: int) -> str:
    """Escaped `text` within `limit` characters; never ends inside an ``&…;`` entity."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    kept = escaped[: max(limit - 1, 0)]
    amp = kept.rfind("&", max(len(kept) - 5, 0))
    if amp >= 0 and ";" not in kept[amp:]:
        kept = kept[:amp]
    return kept.rstrip() + "…"


def plain(text: str, limit: int) -> Block:
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": True}


# -- blocks -----------------------------------------------------------------------------------


def _header(card: Card) -> Block:
    emoji = TIER_EMOJI[card.tier] if card.tier else NO_TIER_EMOJI
    tier = f"[{card.tier.value}] " if card.tier else ""
    return {"type": "header", "text": plain(f"{emoji} {tier}{card.title}", MAX_HEADER)}


def _context(card: Card, lang: str) -> Block:
    badge = badge_of(card, lang)
    if badge is not None:
        parts = [f"{TONE_EMOJI[badge.tone]} *{mrkdwn(badge.word, 100)}*"]
    else:
        parts = [NO_BADGE_EMOJI]
    if card.tier:
        parts.append(f"*{card.tier.value}*")
    if card.footer:
        parts.append(mrkdwn(card.footer, MAX_CONTEXT))
    text = cut(" · ".join(parts), MAX_CONTEXT)
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _field_sections(card: Card) -> list[Block]:
    fields = [
        {
            "type": "mrkdwn",
            "text": f"*{mrkdwn(f.label, 200)}:*\n{mrkdwn(f.value, MAX_FIELD - 210)}",
        }
        for f in card.fields
    ]
    return [
        {"type": "section", "fields": fields[i : i + MAX_FIELDS]}
        for i in range(0, len(fields), MAX_FIELDS)
    ]


def _body_sections(body: str) -> list[Block]:
    if not body.strip():
        return []
    text = mrkdwn(body, MAX_SECTION)
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def _card_sections(sections: tuple[Section, ...]) -> list[Block]:
    blocks = []
    for section in sections:
        title = f"*{mrkdwn(section.title, 200)}*" if section.title.strip() else ""
        lines = "\n".join(line_text(line) for line in section.lines)
        room = MAX_SECTION - len(title) - 1
        text = "\n".join(part for part in (title, mrkdwn(lines, room)) if part)
        if text:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return blocks


def _action_blocks(card: Card, lang: str) -> list[Block]:
    elements = [
        element
        for index, button in enumerate(card.buttons)
        if (element := _button(card.ref, button, index, lang)) is not None
    ]
    first = len(card.buttons)
    elements += [_link(link, first + n) for n, link in enumerate(links_of(card, MAX_URL))]
    return [
        {
            "type": "actions",
            "block_id": f"{ACTION_PREFIX}actions:{i // MAX_ACTIONS}",
            "elements": elements[i : i + MAX_ACTIONS],
        }
        for i in range(0, len(elements), MAX_ACTIONS)
    ]


def _button(card_ref: str, button: Button, index: int, lang: str) -> Block | None:
    element: Block = {"type": "button", "text": plain(button.label, MAX_BUTTON_TEXT)}
    if button.url:
        if len(button.url) > MAX_URL:
            return None
        element["action_id"] = action_id(LINK_ACTION, index)
        element["url"] = button.url
    else:
        value = buttons.encode(card_ref, button)
        if len(value) > MAX_VALUE:
            return None
        element["action_id"] = action_id(button.action.value, index)
        element["value"] = value
    if button.style is not ButtonStyle.DEFAULT:
        element["style"] = button.style.value
    if button.confirm:
        element["confirm"] = _confirm(button, lang)
    return element


def _link(link: Link, index: int) -> Block:
    return {
        "type": "button",
        "text": plain(link.label, MAX_BUTTON_TEXT),
        "action_id": action_id(LINK_ACTION, index),
        "url": link.url,
    }


def _confirm(button: Button, lang: str) -> Block:
    dialog: Block = {
        "title": plain(button.label, MAX_CONFIRM_TITLE),
        "text": plain(button.confirm or "", MAX_CONFIRM_TEXT),
        "confirm": plain(button.label, MAX_CONFIRM_BUTTON),
        "deny": plain(t("button.cancel", lang), MAX_CONFIRM_BUTTON),
    }
    if button.style is ButtonStyle.DANGER:
        dialog["style"] = "danger"
    return dialog
