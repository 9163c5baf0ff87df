"""The neutral `Card` on DingTalk. Pure functions, no I/O.

Two renderings:

- `card_params` — the variables of Tocsin's interactive card template (``config/dingtalk/``):
  every value a string, as ``cardParamMap`` requires (lists are JSON text the template loops over);
- `markdown` / `robot_message` — DingTalk markdown, and a custom robot's ``actionCard`` whose
  buttons open Tocsin's signed action links (``Button.url``).

The tier shows three ways on both: a coloured emoji and ``[P0]`` in the title, and a colour
(``tier_color``; ``<font color=…>`` in markdown): P0 red, P1 orange, P2 yellow, P3 grey.

A template button calls back with two params: ``tocsin``, compact JSON ``{"r": card ref,
"a": action, "v": value}`` read back by `parse_value`, and ``label``, the button's text.
Text from alerts cannot inject markup: ``<`` and ``>`` become their full-width forms.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.edge import buttons
from adapters.edge.buttons import ButtonValue
from bot.i18n import t
from bot.model import Button, ButtonStyle, Card, Tier

TIER_EMOJI = {Tier.P0: "🔴", Tier.P1: "🟠", Tier.P2: "🟡", Tier.P3: "⚪"}
TIER_COLOR = {Tier.P0: "#E53935", Tier.P1: "#FB8C00", Tier.P2: "#F9A825", Tier.P3: "#9E9E9E"}
NO_TIER_EMOJI, NO_TIER_COLOR = "🔵", "#1E88E5"
STATUS_EMOJI = {"triggered": "🚨", "acknowledged": "👀", "silenced": "🔕", "resolved": "✅"}
BUTTON_COLOR = {ButtonStyle.PRIMARY: "blue", ButtonStyle.DANGER: "red", ButtonStyle.DEFAULT: "gray"}
FOOTER_COLOR = "#888888"

MAX_TITLE = 200
MAX_TEXT = 5000
MAX_VALUE = 2000
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


# -- the interactive card ---------------------------------------------------------------------


def parse_value(raw: object) -> ButtonValue | None:
    """The value this module put on a button, or None for anything else; the codec is
    `adapters.edge.buttons`."""
    return buttons.decode(raw, MAX_VALUE)


def card_params(card: Card, lang: str = "en") -> dict[str, str]:
    """The template variables showing `card` (public data: everyone sees the same)."""
    buttons = [_button(card.ref, b, n, lang) for n, b in enumerate(card.buttons)]
    fields = [{"label": safe(f.label), "value": safe(f.value)} for f in card.fields]
    return {
        "title": headline(card),
        "tier": card.tier.value if card.tier else "",
        "tier_color": color(card),
        "status": card.status,
        "status_icon": STATUS_EMOJI.get(card.status, "ℹ️"),
        "fields": _json(fields),
        "fields_markdown": _fields_markdown(card),
        "body": cut(safe(card.body), MAX_TEXT),
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


def markdown(card: Card, *, links: bool = False) -> str:
    """`card` as DingTalk markdown; with `links`, buttons that carry a URL become links."""
    tier = f'<font color="{color(card)}">[{card.tier.value}]</font> ' if card.tier else ""
    emoji = TIER_EMOJI[card.tier] if card.tier else NO_TIER_EMOJI
    status = STATUS_EMOJI.get(card.status, "")
    parts = [f"### {emoji} {tier}{cut(safe(card.title), MAX_TITLE)}"]
    if card.fields:
        parts.append(_fields_markdown(card))
    if card.body.strip():
        parts.append(cut(safe(card.body), MAX_TEXT))
    if links:
        shown = [f"[{safe(b.label)}]({b.url})" for b in card.buttons if b.url]
        if shown:
            parts.append(" · ".join(shown))
    footer = " · ".join(p for p in (status, safe(card.footer)) if p)
    if footer:
        parts.append(f'<font color="{FOOTER_COLOR}">{footer}</font>')
    return "\n\n".join(parts)


def robot_message(card: Card, *, keyword: str | None = None) -> dict[str, Any]:
    """A custom robot's message: an ``actionCard`` with link buttons, or ``markdown``."""
    text = with_keyword(markdown(card), keyword)
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
