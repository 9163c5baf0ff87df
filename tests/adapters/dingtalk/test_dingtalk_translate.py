"""DingTalk payloads (the recorded ones) into neutral requests, and the adapter's settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from dingtalk_support import recorded

from adapters.chat.dingtalk import validate
from adapters.chat.dingtalk.translate import Malformed, bot_message, canonical, card_action
from adapters.edge.buttons import encode as button_value
from bot.model import ActionKind, Button, Destination, Sender

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
NAMES = ("tocsin",)


def recorded_message() -> dict[str, object]:
    data: dict[str, object] = json.loads(recorded("dingtalk_bot_message_stream_frame")["data"])
    return data


def test_the_recorded_group_message() -> None:
    found = bot_message(recorded_message(), NOW, bot_names=NAMES)
    assert found is not None
    request, where = found
    assert request.text == "/rollback payment-api v41"
    assert request.sender == Sender("dingtalk", "manager4220", "张三")
    assert request.chat == Destination("dingtalk", "cidXXXXXXXX==")
    assert request.event_id == "message:msgXXXX=="
    assert (where.group, where.user, where.direct) == ("cidXXXXXXXX==", "manager4220", False)
    assert where.webhook.startswith("https://oapi.dingtalk.com/robot/sendBySession")
    assert where.webhook_expires == datetime.fromtimestamp(1767231060, UTC)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (" /deploy orders v1.4.2 prod", "/deploy orders v1.4.2 prod"),
        ("deploy orders v1.4.2 prod", "/deploy orders v1.4.2 prod"),
        ("@Tocsin ack 1", "/ack 1"),
        ("／ack 1", "/ack 1"),
        ("", "/help"),
        ("  ", "/help"),
    ],
)
def test_mentions_and_slashes_become_one_canonical_text(content: str, expected: str) -> None:
    message = recorded_message() | {"text": {"content": content}}
    found = bot_message(message, NOW, bot_names=NAMES)
    assert found is not None and found[0].text == expected


def test_a_direct_message_answers_in_the_persons_chat() -> None:
    message = recorded_message() | {"conversationType": "1", "conversationId": "cidDM=="}
    found = bot_message(message, NOW, bot_names=NAMES)
    assert found is not None
    request, where = found
    assert request.chat == Destination("dingtalk", "@manager4220") and where.direct


def test_what_is_not_text_is_ignored_and_broken_messages_are_malformed() -> None:
    picture = recorded_message() | {"msgtype": "picture", "content": {"downloadCode": "x"}}
    assert bot_message(picture, NOW, bot_names=NAMES) is None
    for broken in (
        [],
        {"msgtype": "text"},
        recorded_message() | {"msgId": ""},
        {k: v for k, v in recorded_message().items() if k != "text"},
    ):
        with pytest.raises(Malformed):
            bot_message(broken, NOW, bot_names=NAMES)


def test_a_press_on_a_tocsin_card() -> None:
    data: dict[str, object] = json.loads(recorded("dingtalk_card_callback_stream_frame")["data"])
    value = button_value("incident:7", Button("Silence 2h", ActionKind.SILENCE, "2h"))
    content = json.dumps({"cardPrivateData": {"params": {"tocsin": value, "label": "Silence"}}})
    found = card_action(data | {"content": content}, "card-msg", NOW)
    assert found is not None
    request, where = found
    assert (request.action, request.card_ref, request.value) == (
        ActionKind.SILENCE,
        "incident:7",
        "2h",
    )
    assert request.sender == Sender("dingtalk", "manager4220")
    assert request.chat == Destination("dingtalk", "cidXXXXXXXX==")
    assert request.event_id == "card:card-msg"
    assert (where.out_track_id, where.label) == ("alert-ALR-20260101-0001", "Silence")


def test_presses_tocsin_did_not_make_and_broken_callbacks() -> None:
    data: dict[str, object] = json.loads(recorded("dingtalk_card_callback_stream_frame")["data"])
    assert card_action(data, "m", NOW) is None, "the research payload's own params"
    for broken in (
        [],
        data | {"content": "{"},
        data | {"outTrackId": ""},
        data | {"content": "{}"},
    ):
        with pytest.raises(Malformed):
            card_action(broken, "m", NOW)
    with pytest.raises(Malformed):
        card_action(data, "", NOW)


def test_canonical() -> None:
    assert canonical("ack 1") == canonical("/ack 1") == "/ack 1"
    assert canonical("") == "/help"


def test_settings_problems_are_named_by_their_key() -> None:
    good = {"client_id": "ding1", "client_secret": "s", "card_template_id": "t.schema"}
    assert validate(good) == []
    assert validate({"robots": {"ops": {"webhook": "https://x/robot/send?access_token=1"}}}) == []
    assert validate({}) == [
        "(section): configure the app robot (client_id, client_secret) or custom robots "
        "(robots:), or both"
    ]
    assert validate({"client_id": "ding1"}) == [
        "client_secret: required with client_id (the app's Client Secret)"
    ]
    problems = validate(
        good
        | {
            "mode": "websocket",
            "colour": "red",
            "robots": {"ops": {"webhook": "https://x/hook", "secret": "nope"}},
            "robot_rate_per_minute": 20,
            "robot_burst": 5,
        }
    )
    assert any(p.startswith("mode: ") for p in problems)
    assert "colour: unknown key (check its spelling against config/example.yaml)" in problems
    assert any(p.startswith("robots.ops.webhook: ") for p in problems)
    assert any(p.startswith("robots.ops.secret: must be the robot's 加签 secret") for p in problems)
    rates = validate(good | {"robot_rate_per_minute": 20, "robot_burst": 5})
    assert rates and rates[0].startswith("robot_burst: ")
    assert validate(good | {"reconnect_min": "2m", "reconnect_max": "1m"}) == [
        "reconnect_min: must not be longer than reconnect_max"
    ]
