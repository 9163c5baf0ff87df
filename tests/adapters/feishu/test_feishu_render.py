"""Card JSON 2.0 rendering: the shape of the recorded Feishu card, tiers, plain text, limits."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from feishu_support import buttons, recorded

from adapters.chat.feishu.render import (
    MAX_CARD_BYTES,
    parse_value,
    post_content,
    render_card,
    size,
    summary,
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


def texts(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every text object in the card (header, divs, buttons, confirmations)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("tag") in ("plain_text", "lark_md", "markdown"):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def test_the_card_has_the_recorded_shape() -> None:
    card = render_card(alert_card())
    example = recorded("feishu_alert_card_json2")
    assert card["schema"] == example["schema"] == "2.0"
    assert card["config"]["update_multi"] is example["config"]["update_multi"] is True
    assert set(example["header"]) <= set(card["header"])
    assert card["header"]["title"] == {
        "tag": "plain_text",
        "content": "payment-api error rate > 5%",
    }
    assert card["header"]["subtitle"]["content"] == "Incident #7 · ops"
    assert card["config"]["summary"]["content"] == "[P1] payment-api error rate > 5%"
    rendered, recorded_buttons = buttons(card), buttons(example)
    assert [b["type"] for b in rendered] == [b["type"] for b in recorded_buttons]
    assert [b["text"]["content"] for b in rendered] == ["Rollback", "Acknowledge", "Silence 1h"]
    assert [b["behaviors"][0]["type"] for b in rendered] == ["callback"] * 3
    rollback = rendered[0]
    assert set(rollback["confirm"]) == set(recorded_buttons[0]["confirm"]) == {"title", "text"}
    assert rollback["confirm"]["text"]["content"] == "Roll back payment-api in prod?"
    assert "confirm" not in rendered[1]
    (row,) = [e for e in card["body"]["elements"] if e.get("flex_mode") == "flow"]
    assert row["tag"] == "column_set" and all(c["width"] == "auto" for c in row["columns"])


def test_button_values_round_trip_and_foreign_values_are_refused() -> None:
    values = [b["behaviors"][0]["value"] for b in buttons(render_card(alert_card()))]
    decoded = [parse_value(v) for v in values]
    assert [(v.card_ref, v.action, v.value) for v in decoded if v] == [
        ("incident:7", ActionKind.ROLLBACK, "payment-api/prod"),
        ("incident:7", ActionKind.ACK, ""),
        ("incident:7", ActionKind.SILENCE, "1h"),
    ]
    recorded_value = recorded("feishu_card_action_trigger_callback")["event"]["action"]["value"]
    for foreign in (recorded_value, {"r": "incident:7", "a": "explode"}, "ack", None, {"a": "ack"}):
        assert parse_value(foreign) is None


def test_tiers_and_states_look_different() -> None:
    colours = {tier: render_card(alert_card(tier=tier))["header"]["template"] for tier in Tier}
    assert colours == {Tier.P0: "red", Tier.P1: "orange", Tier.P2: "yellow", Tier.P3: "wathet"}
    p0, p3 = render_card(alert_card(tier=Tier.P0)), render_card(alert_card(tier=Tier.P3))
    assert p0["header"]["text_tag_list"][0] == {
        "tag": "text_tag",
        "text": {"tag": "plain_text", "content": "P0"},
        "color": "red",
    }
    assert p3["header"]["text_tag_list"][0]["color"] == "blue"
    assert render_card(alert_card(status="resolved", buttons=()))["header"]["template"] == "green"
    assert render_card(alert_card(status="silenced"))["header"]["template"] == "grey"
    untiered = render_card(alert_card(tier=None))
    assert untiered["header"]["template"] == "red", "without a tier, the badge's tone colours it"
    assert [t["text"]["content"] for t in untiered["header"]["text_tag_list"]] == ["Triggered"]


def test_the_status_tag_speaks_the_chat_language() -> None:
    zh = render_card(alert_card(status="acknowledged"), "zh")
    assert zh["header"]["text_tag_list"][-1]["text"]["content"] == "已认领"
    odd = render_card(alert_card(status="paging"), "en")
    assert [t["text"]["content"] for t in odd["header"]["text_tag_list"]] == ["P1"], (
        "a status outside the vocabulary is not shown raw"
    )


def test_alert_text_is_never_markup() -> None:
    hostile = '<at id=all></at> **bold** [x](https://evil.example) <at user_id="all"></at>'
    card = render_card(
        alert_card(
            title=hostile,
            body=hostile,
            fields=(Field(hostile, hostile),),
            footer=hostile,
            buttons=(Button(hostile, ActionKind.ACK, confirm=hostile),),
        )
    )
    found = texts(card)
    assert found and {t["tag"] for t in found} == {"plain_text"}, "no markdown anywhere"
    assert all(t["content"] == hostile for t in found if "evil" in t["content"])
    assert '"tag": "markdown"' not in json.dumps(card)


def test_fields_go_two_to_a_row_with_a_small_label() -> None:
    card = render_card(alert_card())
    rows = [e for e in card["body"]["elements"] if e.get("flex_mode") == "bisect"]
    assert [len(r["columns"]) for r in rows] == [2, 1]
    label, value = rows[0]["columns"][0]["elements"]
    assert label["text"] == {
        "tag": "plain_text",
        "content": "Service",
        "text_size": "notation",
        "text_color": "grey",
    }
    assert value["text"] == {"tag": "plain_text", "content": "payment-api"}


def test_a_note_says_what_just_happened() -> None:
    card = render_card(alert_card(), note="Incident #7 acknowledged by Alice")
    first = card["body"]["elements"][0]
    assert first["tag"] == "div" and first["text"]["content"] == "Incident #7 acknowledged by Alice"
    assert render_card(alert_card(), note="  ")["body"]["elements"][0]["tag"] == "column_set"


def test_link_buttons_open_their_url() -> None:
    link = Button("Acknowledge", ActionKind.ACK, url="https://tocsin.test/a/xyz")
    (button,) = buttons(render_card(alert_card(buttons=(link,))))
    assert button["behaviors"] == [{"type": "open_url", "default_url": "https://tocsin.test/a/xyz"}]
    too_long = Button("Go", ActionKind.ACK, url="https://tocsin.test/" + "x" * 3000)
    assert buttons(render_card(alert_card(buttons=(too_long,)))) == []


def test_huge_cards_are_cut_to_fit_and_keep_their_buttons() -> None:
    fields = tuple(Field(f"label {i}", "v" * 900) for i in range(40))
    card = render_card(alert_card(body="b" * 100_000, fields=fields, title="t" * 1000))
    assert size(card) <= MAX_CARD_BYTES
    assert len(buttons(card)) == 3
    assert len(card["header"]["title"]["content"]) == 200
    assert card["header"]["title"]["content"].endswith("…")


def test_summary_and_empty_texts() -> None:
    assert summary(alert_card(tier=None, title="")) == "incident:7"
    card = render_card(alert_card(title="", body="", fields=(), buttons=(), footer=""))
    assert card["header"]["title"]["content"] == "incident:7"
    assert card["body"]["elements"] == []
    assert "subtitle" not in card["header"]


def test_texts_are_posts_shown_literally() -> None:
    content = post_content('deploy <at user_id="all"></at> done\nsecond line')
    assert content == {
        "zh_cn": {
            "title": "",
            "content": [
                [{"tag": "text", "text": 'deploy <at user_id="all"></at> done'}],
                [{"tag": "text", "text": "second line"}],
            ],
        }
    }
