"""The neutral `Card` as a WeCom ``template_card`` of type ``button_interaction``. Pure.

Layout::

    source       🔴 P0 · Tocsin               red for P0/P1, black P2, grey P3; an ended card
                                               (or one without a tier) takes its badge's tone
    main_title   [P0] HighErrorRate · orders
                 🚨 Triggered · Incident #7    the badge (tone mark and word) and footer
    quote_area   what just happened (after a press on an AI-bot card)
    sub_title    body, then each section (its title, its lines, ☐ / ☑ for checklists)
    fields       up to 6 (WeCom's limit), key: value; the card's links take the places left
                 (at least one), as ``label: host`` opening the URL
    buttons      up to 6 (WeCom's limit); Rollback asks for confirmation first

WeCom's lengths are recommendations, so text is cut with … to them or a little above. Button
styles 1–4: 1 for primary, 3 for danger, 2 for the rest (the doc shows the colours only as a
picture; style 3 reads as the warning colour in the research samples).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adapters.chat.cardparts import badge_of, line_text, links_of
from adapters.chat.wecom.keys import NOOP_KEY, Step, action_key, cancel_key
from adapters.chat.wecom.text import cut, host, one_line, tier_emoji
from bot.i18n import t
from bot.model import ActionKind, Button, ButtonStyle, Card, Tier, Tone
from bot.statuses import EMOJI, TONES, badge

MAX_BUTTONS = 6
MAX_FIELDS = 6
MAX_TITLE = 36
MAX_DESC = 44
MAX_SUBTITLE = 160
MAX_KEYNAME = 12
MAX_VALUE = 30
MAX_BUTTON_TEXT = 16
MAX_QUOTE = 160
MAX_URL = 2_000
SOURCE = "Tocsin"

STYLE = {ButtonStyle.PRIMARY: 1, ButtonStyle.DEFAULT: 2, ButtonStyle.DANGER: 3}
TIER_COLOUR = {Tier.P0: 2, Tier.P1: 2, Tier.P2: 1, Tier.P3: 0}
"""``source.desc_color``: 0 grey, 1 black, 2 red, 3 green."""
TONE_COLOUR = {
    Tone.ALERT: 2,
    Tone.WAITING: 1,
    Tone.WORKING: 1,
    Tone.GOOD: 3,
    Tone.BAD: 2,
    Tone.MUTED: 0,
}
"""``source.desc_color`` by the badge's tone, for ended cards and cards without a tier."""
ENDED = frozenset({Tone.GOOD, Tone.BAD, Tone.MUTED})

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
        "source": source(card, lang),
        "main_title": main_title(card, lang),
        "task_id": task_id,
    }
    if outcome.strip():
        result["quote_area"] = {"type": 0, "quote_text": cut(outcome.strip(), MAX_QUOTE)}
    text = sub_title(card)
    if text:
        result["sub_title_text"] = text
    contents = fields(card, links=True)
    if contents:
        result["horizontal_content_list"] = contents
    buttons = [] if closed else button_list(card)
    if buttons:
        result["button_list"] = buttons
    else:
        label = closed or status_label(card, lang) or "·"
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


def source(card: Card, lang: str = "en") -> dict[str, Any]:
    tier = f" {card.tier.value}" if card.tier else ""
    badge = badge_of(card, lang)
    if badge is not None and (card.tier is None or badge.tone in ENDED):
        colour = TONE_COLOUR[badge.tone]
    else:
        colour = TIER_COLOUR.get(card.tier or Tier.P3, 0)
    return {"desc": f"{tier_emoji(card.tier)}{tier} · {SOURCE}", "desc_color": colour}


def badge_text(card: Card, lang: str) -> str:
    """``🚨 Triggered``, or "" for a card without a badge."""
    badge = badge_of(card, lang)
    return f"{EMOJI[badge.tone]} {one_line(badge.word)}" if badge else ""


def main_title(card: Card, lang: str = "en") -> dict[str, str]:
    tier = f"[{card.tier.value}] " if card.tier else ""
    title = cut(one_line(tier + card.title), MAX_TITLE) or card.ref
    parts = (badge_text(card, lang), one_line(card.footer))
    desc = " · ".join(part for part in parts if part)
    return {"title": title, "desc": cut(desc, MAX_DESC)}


def sub_title(card: Card) -> str:
    """The body, then each section as its title and its lines, within WeCom's length."""
    parts = [card.body.strip()]
    for section in card.sections:
        parts += [section.title.strip(), *(line_text(line) for line in section.lines)]
    return cut("\n".join(part for part in parts if part), MAX_SUBTITLE)


def fields(card: Card, *, links: bool = False) -> list[dict[str, Any]]:
    """Up to six key/value rows; with `links`, the card's links take the rows left (at least
    one when it has any) as ``label: host`` opening their URL."""
    shown = links_of(card, MAX_URL) if links else []
    kept = card.fields[: MAX_FIELDS - min(len(shown), 1)]
    rows: list[dict[str, Any]] = [
        {
            "keyname": cut(one_line(f.label), MAX_KEYNAME) or "-",
            "value": cut(one_line(f.value), MAX_VALUE),
        }
        for f in kept
    ]
    for link in shown[: MAX_FIELDS - len(rows)]:
        rows.append(
            {
                "type": 1,
                "keyname": cut(one_line(link.label), MAX_KEYNAME) or "-",
                "value": cut(host(link.url), MAX_VALUE) or "-",
                "url": link.url,
            }
        )
    return rows


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
    """The card's badge word ("Resolved", "已恢复"), or "" for a card without a badge."""
    badge = badge_of(card, lang)
    return badge.word if badge else ""


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
    if action is ActionKind.UNSILENCE:  # back to what the silence covered: an Unack button
        held = any(b.action is ActionKind.UNACK for b in card.buttons)  # means acknowledged
        status = "acknowledged" if held else "triggered"
    stale = t("card.status", lang)
    kept = tuple(f for f in card.fields if f.label != stale)
    shown = card.badge if status == card.status else None
    if shown is None and status in TONES:
        shown = badge(status, lang)
    updated = replace(card, status=status, badge=shown, fields=kept, buttons=())
    if action is ActionKind.ROLLBACK:
        return updated, t("button.rollback", lang)
    return updated, status_label(updated, lang)


def guess_language(text: str) -> str:
    """``zh`` when `text` has Chinese characters, else ``en`` (for replies, which carry none)."""
    return "zh" if any("\u4e00" <= char <= "\u9fff" for char in text) else "en"
