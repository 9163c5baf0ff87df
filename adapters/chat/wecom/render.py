"""The neutral `Card` as a WeCom ``template_card`` of type ``button_interaction``. Pure.

Layout::

    source       🔴 P0 · Tocsin               red for P0/P1, black P2, grey P3, green resolved
    main_title   [P0] HighErrorRate · orders
                 🚨 Incident #7 · ops          status emoji and footer
    quote_area   what just happened (after a press on an AI-bot card)
    sub_title    body
    fields       up to 6 (WeCom's limit), key: value
    buttons      up to 6 (WeCom's limit); Rollback asks for confirmation first

WeCom's lengths are recommendations, so text is cut with … to them or a little above. Button
styles 1–4: 1 for primary, 3 for danger, 2 for the rest (the doc shows the colours only as a
picture; style 3 reads as the warning colour in the research samples).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adapters.chat.wecom.keys import NOOP_KEY, Step, action_key, cancel_key
from adapters.chat.wecom.text import cut, one_line, status_emoji, tier_emoji
from bot.i18n import t
from bot.model import ActionKind, Button, ButtonStyle, Card, Tier
from bot.texts import CATALOGUE

MAX_BUTTONS = 6
MAX_FIELDS = 6
MAX_TITLE = 36
MAX_DESC = 44
MAX_SUBTITLE = 160
MAX_KEYNAME = 12
MAX_VALUE = 30
MAX_BUTTON_TEXT = 16
MAX_QUOTE = 160
SOURCE = "Tocsin"

STYLE = {ButtonStyle.PRIMARY: 1, ButtonStyle.DEFAULT: 2, ButtonStyle.DANGER: 3}
TIER_COLOUR = {Tier.P0: 2, Tier.P1: 2, Tier.P2: 1, Tier.P3: 0}
"""``source.desc_color``: 0 grey, 1 black, 2 red, 3 green."""
GREEN = 3

TemplateCard = dict[str, Any]


def template_card(
    card: Card,
    lang: str,
    task_id: str,
    *,
    outcome: str = "",
    closed: str = "",
    for_update: bool = False,
) -> TemplateCard:
    """`card` as a ``button_interaction`` template card with `task_id`.

    `outcome` is shown quoted above the body. A card without buttons (or `closed`, a label)
    shows one inert button; an update (`for_update`) greys it out with that label.
    """
    result: TemplateCard = {
        "card_type": "button_interaction",
        "source": source(card),
        "main_title": main_title(card),
        "task_id": task_id,
    }
    if outcome.strip():
        result["quote_area"] = {"type": 0, "quote_text": cut(outcome.strip(), MAX_QUOTE)}
    if card.body.strip():
        result["sub_title_text"] = cut(card.body.strip(), MAX_SUBTITLE)
    if card.fields:
        result["horizontal_content_list"] = fields(card)
    buttons = [] if closed else button_list(card)
    if buttons:
        result["button_list"] = buttons
    else:
        label = closed or status_label(card, lang)
        result["button_list"] = [{"text": cut(label, MAX_BUTTON_TEXT), "style": 2, "key": NOOP_KEY}]
        if for_update:
            result["replace_text"] = cut(label, MAX_BUTTON_TEXT)
    return result


def confirm_card(card: Card, button: Button, index: int, lang: str, task_id: str) -> TemplateCard:
    """The card asking the presser to confirm `button` (WeCom buttons have no dialog)."""
    result = template_card(card, lang, task_id, outcome=button.confirm or button.label)
    result["button_list"] = [
        {
            "text": cut(button.label, MAX_BUTTON_TEXT),
            "style": STYLE[ButtonStyle.DANGER],
            "key": action_key(card.ref, button.action, button.value, index, step="confirmed"),
        },
        {
            "text": cut(t("button.cancel", lang), MAX_BUTTON_TEXT),
            "style": 2,
            "key": cancel_key(card.ref),
        },
    ]
    return result


def source(card: Card) -> dict[str, Any]:
    tier = f" {card.tier.value}" if card.tier else ""
    colour = GREEN if card.status == "resolved" else TIER_COLOUR.get(card.tier or Tier.P3, 0)
    return {"desc": f"{tier_emoji(card.tier)}{tier} · {SOURCE}", "desc_color": colour}


def main_title(card: Card) -> dict[str, str]:
    tier = f"[{card.tier.value}] " if card.tier else ""
    title = cut(one_line(tier + card.title), MAX_TITLE) or card.ref
    desc = one_line(f"{status_emoji(card.status)} {card.footer}".strip())
    return {"title": title, "desc": cut(desc, MAX_DESC)}


def fields(card: Card) -> list[dict[str, str]]:
    return [
        {
            "keyname": cut(one_line(f.label), MAX_KEYNAME) or "-",
            "value": cut(one_line(f.value), MAX_VALUE),
        }
        for f in card.fields[:MAX_FIELDS]
    ]


def button_list(card: Card) -> list[dict[str, Any]]:
    """Up to six buttons: callbacks carrying their key, or links (``Button.url``)."""
    result: list[dict[str, Any]] = []
    for index, button in enumerate(card.buttons[:MAX_BUTTONS]):
        entry: dict[str, Any] = {
            "text": cut(button.label, MAX_BUTTON_TEXT) or "·",
            "style": STYLE[button.style],
        }
        if button.url:
            entry.update(type=1, url=button.url)
        else:
            step: Step = "ask" if button.confirm else "press"
            entry["key"] = action_key(card.ref, button.action, button.value, index, step=step)
        result.append(entry)
    return result


def status_label(card: Card, lang: str) -> str:
    """The card's status in `lang` ("Resolved", "已恢复"), or as the core named it."""
    key = f"status.{card.status}"
    return t(key, lang) if key in CATALOGUE else card.status


def find_button(card: Card, action: str, value: str) -> tuple[int, Button] | None:
    for index, button in enumerate(card.buttons[:MAX_BUTTONS]):
        if button.action.value == action and button.value == value:
            return index, button
    return None


ACTION_STATUS = {
    ActionKind.ACK: "acknowledged",
    ActionKind.UNACK: "triggered",
    ActionKind.SILENCE: "silenced",
    ActionKind.RESOLVE: "resolved",
}


def after_action(card: Card, action: ActionKind, lang: str) -> tuple[Card, str]:
    """`card` as it stands after `action` succeeded, and the label to grey its buttons with.

    Used where the adapter answers a press itself (the AI bot's passive reply) and the core's
    fresh rendering is not at hand: the status follows the action, the now stale status field is
    left out, and the buttons close (press the bot again for a fresh card).
    """
    status = ACTION_STATUS.get(action, card.status)
    stale = t("card.status", lang)
    kept = tuple(f for f in card.fields if f.label != stale)
    updated = replace(card, status=status, fields=kept, buttons=())
    if action is ActionKind.ROLLBACK:
        return updated, t("button.rollback", lang)
    return updated, status_label(updated, lang)


def guess_language(text: str) -> str:
    """``zh`` when `text` has Chinese characters, else ``en`` (for replies, which carry none)."""
    return "zh" if any("\u4e00" <= char <= "\u9fff" for char in text) else "en"
