"""The neutral `Card` on DingTalk. Pure functions, no I/O.

Two renderings:

- `card_params` — the variables of Tocsin's interactive card template (``config/dingtalk/``):
  every value a string, as ``cardParamMap`` requires (lists are JSON text the template loops over);
- `markdown` / `robot_message` — DingTalk markdown, and a custom robot's ``actionCard`` whose
  buttons open Tocsin's signed action links (``Button.url``).

The tier shows three ways on both: a coloured emoji and ``[P0]`` in the title, and a colour
(``tier_color``; ``<font color=…>`` in markdown): P0 red, P1 orange, P2 yellow, P3 grey. The
badge (the status word, ``🚨 **Triggered**``) opens the markdown in its tone's colour; on the
interactive card it opens ``body``, whose markdown also carries the card's sections (a bold title
and its lines, ☐ / ☑ for checklists) and its links (``[label](url)``, http(s) only);
``status_icon`` is the tone's mark and ``status`` stays the status key, for visibility conditions.

A template button calls back with two params: ``tocsin``, compact JSON ``{"r": card ref,
"a": action, "v": value}`` read back by `parse_value`, and ``label``, the button's text.
Text from alerts cannot inject markup: ``<`` and ``>`` become their full-width forms.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.chat.cardparts import badge_of, line_text, links_of
from adapters.edge import buttons
from adapters.edge.buttons import ButtonValue
from bot.i18n import t
from bot.model import Button, ButtonStyle, Card, Tier, Tone
from bot.statuses import EMOJI

TIER_EMOJI = {Tier.P0: "🔴", Tier.P1: "🟠", Tier.P2: "🟡", Tier.P3: "⚪"}
TIER_COLOR = {Tier.P0: "#E53935", Tier.P1: "#FB8C00", Tier.P2: "#F9A825", Tier.P3: "#9E9E9E"}
NO_TIER_EMOJI, NO_TIER_COLOR = "🔵", "#1E88E5"
TONE_COLOR = {
    Tone.ALERT: "#E53935",
    Tone.WAITING: "#FB8C00",
    Tone.WORKING: "#1E88E5",
    Tone.GOOD: "#43A047",
    Tone.BAD: "#E53935",
    Tone.MUTED: "#9E9E9E",
}
"""The badge's colour by tone; its mark is `bot.statuses.EMOJI`."""
NO_BADGE_ICON = "ℹ️"
BUTTON_COLOR = {ButtonStyle.PRIMARY: "blue", ButtonStyle.DANGER: "red", ButtonStyle.DEFAULT: "gray"}
FOOTER_COLOR = "#888888"

MAX_TITLE = 200
MAX_TEXT = 5000
MAX_VALUE = 2000
MAX_URL = 2000
MAX_SECTION = 2000
PUBLIC_VARIABLES = (
    "title",
    "tier",
    "tier_color",
    "status",
    "status_icon",
    "fields",
    "fields_markdown",
    "body",
    "footer",
    "buttons",
    "has_buttons",
    "lastMessage",
)
"""What `card_params` fills; config/dingtalk/tocsin-alert-card.json declares the same."""
PRIVATE_VARIABLES = ("notice",)
"""Per-person data: the answer to that person's last button press on the card."""


# -- text -------------------------------------------------------------------------------------


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, ending with … when shortened."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def safe(text: str) -> str:
    """Alert text as shown: no HTML tags can be smuggled into DingTalk's markdown."""
    return text.replace("<", "＜").replace(">", "＞")


def headline(card: Card) -> str:
    """``🔴 [P0] HighErrorRate · orders``."""
    emoji = TIER_EMOJI[card.tier] if card.tier else NO_TIER_EMOJI
    tier = f"[{card.tier.value}] " if card.tier else ""
    return cut(f"{emoji} {tier}{safe(card.title)}", MAX_TITLE)


def summary(card: Card) -> str:
    """The one line a chat list or a notification shows: ``[P0] HighErrorRate · orders``."""
    tier = f"[{card.tier.value}] " if card.tier else ""
    return cut(f"{tier}{safe(card.title)}", MAX_TITLE) or card.ref


def color(card: Card) -> str:
    return TIER_COLOR[card.tier] if card.tier else NO_TIER_COLOR


def badge_line(card: Card, lang: str) -> str:
    """``<font color="#E53935">🚨 **Triggered**</font>``, or "" for a card without a badge."""
    badge = badge_of(card, lang)
    if badge is None:
        return ""
    word = safe(badge.word).replace("*", "＊")
    return f'<font color="{TONE_COLOR[badge.tone]}">{EMOJI[badge.tone]} **{word}**</font>'


def sections_markdown(card: Card) -> str:
    """Each section as a bold title and its lines (☐ / ☑ for checklist items)."""
    parts = []
    for section in card.sections:
        lines = [safe(line_text(line)) for line in section.lines]
        title = [f"**{safe(section.title)}**"] if section.title.strip() else []
        text = "\n\n".join(title + lines)
        if text:
            parts.append(cut(text, MAX_SECTION))
    return "\n\n".join(parts)


def links_markdown(card: Card) -> str:
    """The card's links, ``[Runbook](https://…) · [Dashboard](https://…)``."""
    return " · ".join(
        f"[{_label(link.label)}]({_href(link.url)})" for link in links_of(card, MAX_URL)
    )


def _label(text: str) -> str:
    return safe(text).replace("[", "［").replace("]", "］")


def _href(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29")


# -- the interactive card ---------------------------------------------------------------------


def parse_value(raw: object) -> ButtonValue | None:
    """The value this module put on a button, or None for anything else; the codec is
    `adapters.edge.buttons`."""
    return buttons.decode(raw, MAX_VALUE)


def card_params(card: Card, lang: str = "en") -> dict[str, str]:
    """The template variables showing `card` (public data: everyone sees the same)."""
    buttons = [_button(card.ref, b, n, lang) for n, b in enumerate(card.buttons)]
    fields = [{"label": safe(f.label), "value": safe(f.value)} for f in card.fields]
    badge = badge_of(card, lang)
    body = [badge_line(card, lang), cut(safe(card.body), MAX_TEXT)]
    body += [sections_markdown(card), links_markdown(card)]
    return {
        "title": headline(card),
        "tier": card.tier.value if card.tier else "",
        "tier_color": color(card),
        "status": card.status,
        "status_icon": EMOJI[badge.tone] if badge else NO_BADGE_ICON,
        "fields": _json(fields),
        "fields_markdown": _fields_markdown(card),
        "body": "\n\n".join(part for part in body if part.strip()),
        "footer": safe(card.footer),
        "buttons": _json(buttons),
        "has_buttons": "true" if buttons else "false",
        "lastMessage": summary(card),
    }


def _button(card_ref: str, button: Button, index: int, lang: str) -> dict[str, str]:
    return {
        "id": f"tocsin_{button.action.value}_{index}",
        "text": button.label,
        "color": BUTTON_COLOR[button.style],
        "value": buttons.encode(card_ref, button),
        "confirm": button.confirm or "",
        "confirm_ok": button.label,
        "cancel": t("button.cancel", lang),
        "url": button.url or "",
    }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- markdown ---------------------------------------------------------------------------------


def _fields_markdown(card: Card) -> str:
    return "\n\n".join(f"**{safe(f.label)}:** {safe(f.value)}" for f in card.fields)


def markdown(card: Card, *, links: bool = False, lang: str = "en") -> str:
    """`card` as DingTalk markdown; with `links`, buttons that carry a URL become links too.
    `lang` names the badge of a card stored without one."""
    tier = f'<font color="{color(card)}">[{card.tier.value}]</font> ' if card.tier else ""
    emoji = TIER_EMOJI[card.tier] if card.tier else NO_TIER_EMOJI
    parts = [f"### {emoji} {tier}{cut(safe(card.title), MAX_TITLE)}", badge_line(card, lang)]
    if card.fields:
        parts.append(_fields_markdown(card))
    if card.body.strip():
        parts.append(cut(safe(card.body), MAX_TEXT))
    parts.append(sections_markdown(card))
    shown = [f"[{_label(b.label)}]({_href(b.url)})" for b in card.buttons if links and b.url]
    parts.append(" · ".join(part for part in (*shown, links_markdown(card)) if part))
    if card.footer.strip():
        parts.append(f'<font color="{FOOTER_COLOR}">{safe(card.footer)}</font>')
    return "\n\n".join(part for part in parts if part)


def robot_message(card: Card, *, keyword: str | None = None, lang: str = "en") -> dict[str, Any]:
    """A custom robot's message: an ``actionCard`` with link buttons, or ``markdown``. A card
    that @-mentions people (`Card.mentions`, userIds) is markdown with its buttons as links,
    since DingTalk's ``at`` works for markdown and text only; each ``@userId`` is in the text
    too, as DingTalk requires for the mention to show."""
    if card.mentions:
        shown = " ".join(f"@{who}" for who in card.mentions)
        text = with_keyword(f"{markdown(card, links=True, lang=lang)}\n\n{shown}", keyword)
        return {
            "msgtype": "markdown",
            "markdown": {"title": summary(card), "text": text},
            "at": {"atUserIds": list(card.mentions), "isAtAll": False},
        }
    text = with_keyword(markdown(card, lang=lang), keyword)
    buttons = [{"title": b.label, "actionURL": b.url} for b in card.buttons if b.url]
    if not buttons:
        return {"msgtype": "markdown", "markdown": {"title": summary(card), "text": text}}
    return {
        "msgtype": "actionCard",
        "actionCard": {
            "title": summary(card),
            "text": text,
            "btnOrientation": "1" if len(buttons) > 2 else "0",
            "btns": buttons,
        },
    }


def robot_text(text: str, *, keyword: str | None = None) -> dict[str, Any]:
    """A custom robot's plain text message."""
    return {"msgtype": "text", "text": {"content": with_keyword(cut(text, MAX_TEXT), keyword)}}


def with_keyword(text: str, keyword: str | None) -> str:
    """`text` containing the robot's security keyword (added at the end when missing)."""
    if not keyword or keyword in text:
        return text
    return f"{text}\n\n{keyword}"
