"""The neutral `Card` as a Feishu card in JSON 2.0, and texts as rich-text posts. Pure, no I/O.

Layout (top to bottom)::

    header   HighErrorRate · orders      [P0] [Triggered]     tier tag, badge tag (tone colour)
             Incident #7 · ops
    body     fields, two per row: small grey label, value
             body text
             sections: a bold title, then the lines as plain text (☐ / ☑ for checklists)
             buttons, then the card's links (open_url), in one flowing row; Rollback asks
             for confirmation

The header takes the tier's colour (P0 red … P3 wathet) while the card asks for something;
a card without a tier, or one that has ended (badge tone good, bad or muted), takes its badge's
tone colour: a rolled-back run is red, a resolved incident green, a silenced one grey.

Every text that may come from an alert is ``plain_text`` (or a rich-text ``text`` run), never
markdown, so an alert cannot ``<at id=all>`` a chat or inject links; a section title is the one
markdown text, its markup characters replaced by their full-width forms. Each button's callback
value is ``{"r": card ref, "a": action, "v": value}``, read back by `parse_value`; link-only
buttons (``Button.url``) and the card's links open their URL. ``config.update_multi`` is set,
so one update shows for everyone and the card can be patched later. Texts are cut to fit, and
the whole card to Feishu's 30 KB.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.chat.cardparts import badge_of, line_text, links_of
from adapters.edge import buttons
from adapters.edge.buttons import ButtonValue
from bot.model import Button, ButtonStyle, Card, Link, Section, Tier, Tone

MAX_CARD_BYTES = 28_000
"""Feishu takes cards up to 30 KB; keep a margin for the request around it."""
MAX_TITLE = 200
MAX_SUBTITLE = 200
MAX_SUMMARY = 120
MAX_LABEL = 100
MAX_VALUE = 1_000
MAX_BODY = 4_000
MAX_FIELDS = 24
MAX_BUTTONS = 20
MAX_BUTTON_TEXT = 40
MAX_CONFIRM = 300
MAX_TEXT = 8_000
MAX_URL = 2_000

TEMPLATE = {Tier.P0: "red", Tier.P1: "orange", Tier.P2: "yellow", Tier.P3: "wathet"}
"""Header colour by tier: the tier must be seen before anything is read."""
NO_TIER_TEMPLATE = "blue"
TIER_TAG = {Tier.P0: "red", Tier.P1: "orange", Tier.P2: "yellow", Tier.P3: "blue"}
TONE_TEMPLATE = {
    Tone.ALERT: "red",
    Tone.WAITING: "orange",
    Tone.WORKING: "blue",
    Tone.GOOD: "green",
    Tone.BAD: "red",
    Tone.MUTED: "grey",
}
"""Header colour by the badge's tone, for cards without a tier and for ended cards."""
ENDED = frozenset({Tone.GOOD, Tone.BAD, Tone.MUTED})
"""Tones whose colour wins over the tier's: the card no longer asks for anything."""
TONE_TAG = {
    Tone.ALERT: "red",
    Tone.WAITING: "orange",
    Tone.WORKING: "blue",
    Tone.GOOD: "green",
    Tone.BAD: "red",
    Tone.MUTED: "neutral",
}
MAX_SECTION_TITLE = 200
MAX_SECTION = 4_000
_MARKUP = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］", "*": "＊", "`": "'"})
BUTTON_TYPE = {
    ButtonStyle.PRIMARY: "primary",
    ButtonStyle.DANGER: "danger",
    ButtonStyle.DEFAULT: "default",
}

Json = dict[str, Any]


def render_card(card: Card, lang: str = "en", *, note: str = "") -> Json:
    """The card JSON 2.0 showing `card`; `note`, when given, is a line above the fields (what
    just happened, shown to everyone until the card's next update)."""
    elements = (
        _note(note) + _fields(card) + _body(card.body) + _sections(card.sections) + _buttons(card)
    )
    rendered: Json = {
        "schema": "2.0",
        "config": {"update_multi": True, "summary": {"content": summary(card)}},
        "header": _header(card, lang),
        "body": {"elements": elements},
    }
    return _fit(rendered)


def summary(card: Card) -> str:
    """The line chat lists and notifications show: ``[P0] HighErrorRate · orders``."""
    prefix = f"[{card.tier.value}] " if card.tier else ""
    return cut(prefix + card.title, MAX_SUMMARY) or card.ref


def parse_value(raw: object) -> ButtonValue | None:
    """The value this module put on a button, or None for anything else (old or foreign
    buttons); the codec is `adapters.edge.buttons`."""
    return buttons.from_fields(raw)


def post_content(text: str) -> Json:
    """A rich-text (``post``) message showing `text` as typed, one paragraph per line.

    Plain ``text`` messages would turn ``<at user_id="all"></at>`` in an alert into a mention of
    everyone; a post's ``text`` runs are shown literally.
    """
    lines = cut(text, MAX_TEXT).split("\n")
    return {"zh_cn": {"title": "", "content": [[{"tag": "text", "text": line}] for line in lines]}}


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, ending with … when shortened."""
    text = text.strip()
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def plain(text: str, limit: int) -> Json:
    return {"tag": "plain_text", "content": cut(text, limit) or " "}


# -- parts ------------------------------------------------------------------------------------


def _header(card: Card, lang: str) -> Json:
    badge = badge_of(card, lang)
    if badge is not None and (card.tier is None or badge.tone in ENDED):
        template = TONE_TEMPLATE[badge.tone]
    else:
        template = TEMPLATE[card.tier] if card.tier else NO_TIER_TEMPLATE
    tags = []
    if card.tier:
        tags.append(_tag(card.tier.value, TIER_TAG[card.tier]))
    if badge is not None:
        tags.append(_tag(badge.word, TONE_TAG[badge.tone]))
    header: Json = {"title": plain(card.title or card.ref, MAX_TITLE), "template": template}
    if card.footer.strip():
        header["subtitle"] = plain(card.footer, MAX_SUBTITLE)
    if tags:
        header["text_tag_list"] = tags
    return header


def _tag(text: str, color: str) -> Json:
    return {"tag": "text_tag", "text": plain(text, 40), "color": color}


def _text(text: str, limit: int, **style: str) -> Json:
    return {"tag": "div", "text": {**plain(text, limit), **style}}


def _note(note: str) -> list[Json]:
    return [_text(note, MAX_VALUE, text_color="green")] if note.strip() else []


def _fields(card: Card) -> list[Json]:
    fields = card.fields[:MAX_FIELDS]
    rows = []
    for start in range(0, len(fields), 2):
        columns = [
            {
                "tag": "column",
                "width": "weighted",
                "weight": 1,
                "vertical_align": "top",
                "elements": [
                    _text(f.label, MAX_LABEL, text_size="notation", text_color="grey"),
                    _text(f.value, MAX_VALUE),
                ],
            }
            for f in fields[start : start + 2]
        ]
        rows.append(
            {
                "tag": "column_set",
                "flex_mode": "bisect",
                "horizontal_spacing": "12px",
                "columns": columns,
            }
        )
    return rows


def _body(body: str) -> list[Json]:
    return [_text(body, MAX_BODY)] if body.strip() else []


def _sections(sections: tuple[Section, ...]) -> list[Json]:
    """Each section: its title in bold (markdown, with markup characters made inert), then its
    lines as plain text, so a line from an alert cannot mention or link anyone."""
    elements: list[Json] = []
    for section in sections:
        title = cut(section.title, MAX_SECTION_TITLE).translate(_MARKUP)
        if title:
            elements.append({"tag": "markdown", "content": f"**{title}**"})
        lines = "\n".join(line_text(line) for line in section.lines)
        if lines.strip():
            elements.append(_text(lines, MAX_SECTION))
    return elements


def _buttons(card: Card) -> list[Json]:
    elements = [
        element
        for button in card.buttons[:MAX_BUTTONS]
        if (element := _button(card.ref, button)) is not None
    ]
    room = max(MAX_BUTTONS - len(elements), 0)
    elements += [_link(link) for link in links_of(card, MAX_URL)[:room]]
    columns = [{"tag": "column", "width": "auto", "elements": [e]} for e in elements]
    if not columns:
        return []
    return [
        {"tag": "column_set", "flex_mode": "flow", "horizontal_spacing": "8px", "columns": columns}
    ]


def _button(card_ref: str, button: Button) -> Json | None:
    element: Json = {
        "tag": "button",
        "type": BUTTON_TYPE[button.style],
        "text": plain(button.label, MAX_BUTTON_TEXT),
    }
    if button.url:
        if len(button.url) > MAX_URL:
            return None
        element["behaviors"] = [{"type": "open_url", "default_url": button.url}]
    else:
        element["behaviors"] = [{"type": "callback", "value": buttons.fields(card_ref, button)}]
    if button.confirm:
        element["confirm"] = {
            "title": plain(button.label, MAX_BUTTON_TEXT),
            "text": plain(button.confirm, MAX_CONFIRM),
        }
    return element


def _link(link: Link) -> Json:
    return {
        "tag": "button",
        "type": "default",
        "text": plain(link.label, MAX_BUTTON_TEXT),
        "behaviors": [{"type": "open_url", "default_url": link.url}],
    }


# -- size -------------------------------------------------------------------------------------


def size(card: Json) -> int:
    """The card's size as Feishu counts it: bytes of its JSON."""
    return len(json.dumps(card, ensure_ascii=False, separators=(",", ":")).encode())


def _fit(card: Json) -> Json:
    """Drop content from the bottom of the text (never the buttons) until the card fits."""
    elements: list[Json] = card["body"]["elements"]
    while size(card) > MAX_CARD_BYTES:
        texts = [i for i, e in enumerate(elements) if e["tag"] != "column_set" or _is_fields(e)]
        if not texts:
            break
        index = texts[-1]
        shrunk = _shrink(elements[index])
        if shrunk is None:
            del elements[index]
        else:
            elements[index] = shrunk
    return card


def _is_fields(element: Json) -> bool:
    return element.get("flex_mode") == "bisect"


def _shrink(element: Json) -> Json | None:
    """The element with its text halved, or None when it is too short to be worth keeping."""
    if element["tag"] != "div":
        return None
    content: str = element["text"]["content"]
    if len(content) < 200:
        return None
    return {**element, "text": {**element["text"], "content": cut(content, len(content) // 2)}}
