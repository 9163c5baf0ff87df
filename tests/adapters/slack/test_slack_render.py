"""Block Kit rendering: the shapes of the recorded Slack payloads, tiers, escaping and limits."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from slack_support import recorded

from adapters.chat.slack.render import (
    MAX_BLOCKS,
    escape,
    mrkdwn,
    parse_value,
    render_card,
)
from bot.model import ActionKind, Button, ButtonStyle, Card, Field, Tier


def alert_card(**changes: Any) -> Card:
    card = Card(
        ref="incident:7",
        title="payment-api error rate > 5%",
        tier=Tier.P1,
        status="triggered",
        fields=(
            Field("Service", "payment-api"),
            Field("Env", "prod"),
            Field("Severity", "P1"),
            Field("Alert ID", "ALR-20260101-0001"),
        ),
        body="5xx over 5 % for 10 minutes",
        buttons=(
            Button(
                "Rollback",
                ActionKind.ROLLBACK,
                "payment-api/prod",
                ButtonStyle.DANGER,
                confirm="Roll back payment-api in prod?",
            ),
            Button("Acknowledge", ActionKind.ACK, style=ButtonStyle.PRIMARY),
            Button("Silence 1h", ActionKind.SILENCE, "1h"),
        ),
        footer="Incident #7 · ops",
    )
    return dataclasses.replace(card, **changes)


def by_type(blocks: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [b for b in blocks if b["type"] == kind]


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in by_type(blocks, "actions") for e in b["elements"]]


def test_the_card_has_the_recorded_alert_shape() -> None:
    message = render_card(alert_card())
    example = recorded("slack_alert_card_chat_postMessage")
    assert message.text == escape(example["text"])  # Slack wants & < > as entities
    assert [b["type"] for b in message.blocks] == [
        "header",
        "context",
        "section",
        "section",
        "actions",
    ]
    header = message.blocks[0]["text"]
    assert header["type"] == "plain_text" and header["text"].endswith(
        "[P1] payment-api error rate > 5%"
    )
    recorded_fields = next(b for b in example["blocks"] if b["type"] == "section")["fields"]
    assert by_type(message.blocks, "section")[0]["fields"] == recorded_fields
    rollback, ack, silence = buttons(message.blocks)
    recorded_rollback = example["blocks"][2]["elements"][0]
    assert rollback.keys() == recorded_rollback.keys()
    assert rollback["style"] == "danger" and ack["style"] == "primary" and "style" not in silence
    assert rollback["confirm"].keys() == recorded_rollback["confirm"].keys()
    assert rollback["confirm"]["text"]["text"] == "Roll back payment-api in prod?"
    assert rollback["confirm"]["style"] == "danger"
    assert rollback["confirm"]["deny"]["text"] == "Cancel"
    assert "confirm" not in ack and "confirm" not in silence
    in_chinese = buttons(render_card(alert_card(), "zh").blocks)[0]
    assert in_chinese["confirm"]["deny"]["text"] == "取消"


def test_buttons_carry_unique_ids_and_a_compact_value_read_back() -> None:
    elements = buttons(render_card(alert_card()).blocks)
    assert [e["action_id"] for e in elements] == [
        "tocsin:rollback:0",
        "tocsin:ack:1",
        "tocsin:silence:2",
    ]
    assert json.loads(elements[2]["value"]) == {"r": "incident:7", "a": "silence", "v": "1h"}
    decoded = parse_value(elements[0]["value"])
    assert decoded is not None
    assert (decoded.card_ref, decoded.action, decoded.value) == (
        "incident:7",
        ActionKind.ROLLBACK,
        "payment-api/prod",
    )
    for junk in ("", "{", "[]", '{"r": "x", "a": "dance"}', '{"a": "ack"}', None, "x" * 3000):
        assert parse_value(junk) is None


def test_a_p0_looks_different_from_a_p3() -> None:
    p0 = render_card(alert_card(tier=Tier.P0)).blocks
    p3 = render_card(alert_card(tier=Tier.P3)).blocks
    assert p0[0]["text"]["text"].startswith(":red_circle: [P0]")
    assert p3[0]["text"]["text"].startswith(":white_circle: [P3]")
    assert "*P0*" in p0[1]["elements"][0]["text"] and "*P3*" in p3[1]["elements"][0]["text"]


def test_status_shows_in_the_context_line() -> None:
    done = render_card(alert_card(status="resolved", buttons=())).blocks
    assert done[1]["elements"][0]["text"].startswith(":white_check_mark:")
    assert by_type(done, "actions") == []


def test_alert_text_cannot_ping_the_channel() -> None:
    card = alert_card(
        title="<!channel> down", body="see <https://evil|here> & <@U123>", footer="<!here>"
    )
    message = render_card(card)
    flat = json.dumps(message.blocks)
    assert "<!channel>" not in message.text and "&lt;!channel&gt;" in message.text
    assert "<!here>" not in flat and "<https://evil" not in flat and "<@U123>" not in flat
    assert "&amp;" in flat


def test_link_buttons_open_their_url() -> None:
    card = alert_card(
        buttons=(Button("Acknowledge", ActionKind.ACK, url="https://tocsin.test/a/tok"),)
    )
    (element,) = buttons(render_card(card).blocks)
    assert element["url"] == "https://tocsin.test/a/tok"
    assert element["action_id"] == "tocsin:link:0" and "value" not in element


def test_limits_are_respected() -> None:
    many_fields = tuple(Field(f"label {i}", "v" * 5000) for i in range(600))
    many_buttons = tuple(Button(f"B{i} " + "x" * 100, ActionKind.ACK) for i in range(60))
    card = alert_card(title="t" * 400, body="b" * 10_000, fields=many_fields, buttons=many_buttons)
    message = render_card(card)
    blocks = message.blocks
    assert len(blocks) <= MAX_BLOCKS
    assert len(blocks[0]["text"]["text"]) <= 150
    actions = by_type(blocks, "actions")
    assert [len(a["elements"]) for a in actions] == [25, 25, 10]
    assert len({a["block_id"] for a in actions}) == 3
    assert all(len(e["text"]["text"]) <= 75 for a in actions for e in a["elements"])
    for section in by_type(blocks, "section"):
        assert len(section.get("fields", [])) <= 10
        assert all(len(f["text"]) <= 2000 for f in section.get("fields", []))
        assert len(section.get("text", {}).get("text", "")) <= 3000
    assert len(message.text) <= 3000


def test_cutting_never_splits_an_escape() -> None:
    text = "a" * 10 + "&" * 10
    for limit in range(5, 40):
        cut = mrkdwn(text, limit)
        assert len(cut) <= limit
        body = cut.removesuffix("…")
        assert body.replace("&amp;", "").count("&") == 0
