"""The shared chat-platform contract (`tests/contract/test_chat_platform.py`) run against the real
`FeishuPlatform` and the fake Open API: what the chat shows is read back from the card JSON 2.0
Feishu holds, so the rendering must carry everything a `Card` says."""

from __future__ import annotations

from typing import Any

import pytest
from fake_feishu import FakeOpenApi
from feishu_support import CHAT, buttons, config

from adapters.chat.feishu import create
from adapters.chat.feishu.render import BUTTON_TYPE, TONE_TAG
from bot.clock import FakeClock
from bot.i18n import t
from bot.model import ActionKind, Badge, Button, Card, Destination, Field, Tier
from bot.replay import MemoryReplays
from bot.statuses import TONES
from tests.contract.test_chat_platform import (
    Subject,
    test_impossible_destination_is_permanent,
    test_posted_card_is_shown,
    test_texts_are_shown_and_may_reply_to_a_card,
    test_update_replaces_the_card_in_place,
)

__all__ = [
    "test_impossible_destination_is_permanent",
    "test_posted_card_is_shown",
    "test_texts_are_shown_and_may_reply_to_a_card",
    "test_update_replaces_the_card_in_place",
]
STATUSES = ("triggered", "acknowledged", "silenced", "resolved")


@pytest.fixture
def subject(open_api: FakeOpenApi) -> Subject:
    platform = create(
        config(open_api)["feishu"], clock=FakeClock(), replays=MemoryReplays()
    ).platform

    async def cards() -> list[Card]:
        return [shown(m.content) for m in open_api.cards_in(CHAT)]

    async def texts() -> list[str]:
        return [m.text for m in open_api.posts_in(CHAT)]

    return Subject(
        platform, Destination("feishu", CHAT), cards, texts, Destination("feishu", "oc_nowhere")
    )


def shown(card: dict[str, Any]) -> Card:
    """The neutral card a Feishu card JSON 2.0 shows, read back."""
    header, elements = card["header"], card["body"]["elements"]
    tag_list = header.get("text_tag_list", [])
    tags = [tag["text"]["content"] for tag in tag_list]
    tier = Tier(tags[0]) if tags and tags[0] in Tier.__members__ else None
    label = tags[-1] if tags else ""
    status = next((s for s in STATUSES if t(f"status.{s}", "en") == label), label)
    shown_badge = None
    if status in STATUSES:
        tone = TONES[status]
        assert tag_list[-1]["color"] == TONE_TAG[tone], "the badge wears its tone's colour"
        shown_badge = Badge(label, tone)
    fields = tuple(
        Field(column["elements"][0]["text"]["content"], column["elements"][1]["text"]["content"])
        for row in elements
        if row.get("flex_mode") == "bisect"
        for column in row["columns"]
    )
    body = next((e["text"]["content"] for e in elements if e["tag"] == "div"), "")
    kinds = {v: k for k, v in BUTTON_TYPE.items()}
    pressed = [
        Button(
            b["text"]["content"],
            ActionKind(b["behaviors"][0]["value"]["a"]),
            b["behaviors"][0]["value"]["v"],
            kinds[b["type"]],
            confirm=b["confirm"]["text"]["content"] if "confirm" in b else None,
        )
        for b in buttons(card)
    ]
    refs = {b["behaviors"][0]["value"]["r"] for b in buttons(card)}
    return Card(
        ref=refs.pop() if len(refs) == 1 else "",
        title=header["title"]["content"],
        tier=tier,
        status=status,
        fields=fields,
        body=body,
        buttons=tuple(pressed),
        footer=header.get("subtitle", {}).get("content", ""),
        badge=shown_badge,
    )
