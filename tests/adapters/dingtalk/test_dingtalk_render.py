"""The neutral card on DingTalk: template variables (checked against the shipped template
definition), tiers that look different, buttons that read back, robot messages."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.chat.dingtalk.render import (
    PRIVATE_VARIABLES,
    PUBLIC_VARIABLES,
    card_params,
    markdown,
    parse_value,
    robot_message,
    robot_text,
)
from bot.model import ActionKind, Button, ButtonStyle, Card, Field, Tier

TEMPLATE = Path(__file__).parents[3] / "config" / "dingtalk" / "tocsin-alert-card.json"


def card(tier: Tier | None = Tier.P0, **kwargs: object) -> Card:
    fields = {
        "ref": "incident:7",
        "title": "HighErrorRate · orders",
        "tier": tier,
        "status": "triggered",
        "fields": (Field("Service", "orders"), Field("Environment", "prod")),
        "body": "error rate > 5% <font color=red>x</font>",
        "buttons": (
            Button("Acknowledge", ActionKind.ACK, style=ButtonStyle.PRIMARY),
            Button("Silence 1h", ActionKind.SILENCE, "1h"),
            Button("Rollback", ActionKind.ROLLBACK, "orders/prod", ButtonStyle.DANGER, "Sure?"),
        ),
        "footer": "Incident #7 · ops",
    }
    fields.update(kwargs)
    return Card(**fields)  # type: ignore[arg-type]


def test_the_variables_are_those_the_shipped_template_declares() -> None:
    declared = json.loads(TEMPLATE.read_text())["variables"]
    public = {v["name"] for v in declared if v["data"] == "public"}
    private = {v["name"] for v in declared if v["data"] == "private"}
    assert set(card_params(card())) == public == set(PUBLIC_VARIABLES)
    assert private == set(PRIVATE_VARIABLES)
    for variable in declared:  # every example is what Tocsin would send: a string
        assert isinstance(variable["example"], str)
        if variable["type"] == "loopArray":
            assert isinstance(json.loads(variable["example"]), list)


def test_every_value_is_a_string_and_lists_are_json() -> None:
    params = card_params(card())
    assert all(isinstance(value, str) for value in params.values())
    assert json.loads(params["fields"])[1] == {"label": "Environment", "value": "prod"}
    assert params["fields_markdown"] == "**Service:** orders\n\n**Environment:** prod"
    assert params["has_buttons"] == "true"


def test_p0_and_p3_look_different() -> None:
    p0, p3, none = card_params(card(Tier.P0)), card_params(card(Tier.P3)), card_params(card(None))
    assert (p0["title"], p0["tier_color"]) == ("🔴 [P0] HighErrorRate · orders", "#E53935")
    assert (p3["title"], p3["tier_color"]) == ("⚪ [P3] HighErrorRate · orders", "#9E9E9E")
    assert (none["title"], none["tier"]) == ("🔵 HighErrorRate · orders", "")
    assert '<font color="#E53935">[P0]</font>' in markdown(card(Tier.P0))
    assert '<font color="#9E9E9E">[P3]</font>' in markdown(card(Tier.P3))


def test_buttons_read_back_as_the_action_they_stand_for() -> None:
    shown = json.loads(card_params(card(), "zh")["buttons"])
    assert [(b["id"], b["color"]) for b in shown] == [
        ("tocsin_ack_0", "blue"),
        ("tocsin_silence_1", "gray"),
        ("tocsin_rollback_2", "red"),
    ]
    rollback = shown[2]
    assert (rollback["confirm"], rollback["cancel"]) == ("Sure?", "取消")
    value = parse_value(rollback["value"])
    assert value is not None
    assert (value.card_ref, value.action, value.value) == (
        "incident:7",
        ActionKind.ROLLBACK,
        "orders/prod",
    )
    for foreign in (None, "", "{", "[]", '{"r": "x", "a": "explode"}', '{"a": "ack"}', "x" * 3000):
        assert parse_value(foreign) is None


def test_alert_text_cannot_inject_markup() -> None:
    params = card_params(card())
    assert "<font color=red>" not in params["body"] and "＜font color=red＞" in params["body"]
    assert "<font color=red>" not in markdown(card())


def test_custom_robot_messages() -> None:
    linked = card(
        buttons=(
            Button("Acknowledge", ActionKind.ACK, url="https://tocsin.test/a/1"),
            Button("Resolve", ActionKind.RESOLVE, url="https://tocsin.test/a/2"),
            Button("Silence 1h", ActionKind.SILENCE, "1h", url="https://tocsin.test/a/3"),
        )
    )
    message = robot_message(linked)
    assert message["msgtype"] == "actionCard"
    action_card = message["actionCard"]
    assert action_card["title"] == "[P0] HighErrorRate · orders"
    assert action_card["btnOrientation"] == "1", "three buttons stack"
    assert action_card["btns"][1] == {"title": "Resolve", "actionURL": "https://tocsin.test/a/2"}
    assert robot_message(card(buttons=()))["msgtype"] == "markdown"
    two = robot_message(card(buttons=linked.buttons[:2]))
    assert two["actionCard"]["btnOrientation"] == "0"
    assert robot_text("hi", keyword="告警") == {
        "msgtype": "text",
        "text": {"content": "hi\n\n告警"},
    }
    assert robot_message(card(buttons=()), keyword="告警")["markdown"]["text"].endswith("告警")
