"""WeCom callbacks into neutral requests (from the recorded payloads), and the settings section."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from wecom_support import press_xml, recorded

from adapters.chat.wecom import validate
from adapters.chat.wecom.envelope import message_fields
from adapters.chat.wecom.keys import Key, action_key
from adapters.chat.wecom.translate import (
    aibot_command,
    aibot_press,
    app_command,
    app_press,
    command_text,
)
from bot.bootstrap import check_adapters
from bot.model import ActionKind, Destination, Sender
from bot.settings import parse_settings
from tests.support import EXAMPLE_ENV, base_config

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
KEY = action_key("incident:7", ActionKind.ACK, "", 1, step="press")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("@Tocsin ack 1", "/ack 1"),
        ("@tocsin: /ack 1", "/ack 1"),
        ("@运维助手 ack 1", "/ack 1"),
        ("＠运维助手 /silence 1 2h", "/silence 1 2h"),
        ("ack 1", "/ack 1"),
        ("／ack 1", "/ack 1"),
        ("@Tocsin", "/help"),
        ("", "/help"),
    ],
)
def test_commands_read_the_same_however_typed(typed: str, expected: str) -> None:
    assert command_text(typed, ["tocsin"]) == expected


def test_a_recorded_app_press() -> None:
    fields = message_fields(press_xml("alice", "task-9", KEY, "CODE-1", create_time=1767225660))
    press = app_press(fields, NOW)
    assert press is not None
    assert press.key == Key("press", "incident:7", ActionKind.ACK, "")
    assert (press.task_id, press.user, press.response_code) == ("task-9", "alice", "CODE-1")
    assert press.event_id.startswith("app:card:alice:1767225660:task-9:")
    foreign = recorded("wecom_template_card_event_callback_app.xml")["xml"]
    assert app_press(message_fields(foreign), NOW) is None, "ack:ALR-… is not a Tocsin key"
    assert app_command(fields, NOW, ["tocsin"]) is None


def test_an_app_text_is_a_command_in_that_persons_conversation() -> None:
    fields = {"FromUserName": "bob", "MsgType": "text", "Content": "ack 3", "MsgId": "42"}
    request = app_command(fields, NOW, ["tocsin"])
    assert request is not None
    assert (request.text, request.event_id) == ("/ack 3", "app:msg:42")
    assert request.sender == Sender("wecom", "bob") and request.chat == Destination("wecom", "bob")
    assert app_command({**fields, "MsgType": "image"}, NOW, []) is None
    lowercase = {"fromusername": "bob", "msgtype": "text", "content": "help", "createtime": "9"}
    found = app_command(lowercase, NOW, [])
    assert found is not None and found.event_id == "app:msg:bob:9"


def test_ai_bot_messages_in_groups_and_direct_chats() -> None:
    group = {
        "msgid": "M1",
        "chatid": "CHAT",
        "chattype": "group",
        "from": {"userid": "alice"},
        "response_url": "https://x/r",
        "msgtype": "text",
        "text": {"content": "@RobotA ack 1"},
    }
    found = aibot_command(group, NOW, ["tocsin"])
    assert found is not None
    request, where = found
    assert (request.text, request.event_id) == ("/ack 1", "aibot:M1")
    assert request.chat == Destination("wecom-aibot", "CHAT") and where.group
    mixed = {
        **group,
        "msgtype": "mixed",
        "mixed": {
            "msg_item": [
                {"msgtype": "text", "text": {"content": "@RobotA incident"}},
                {"msgtype": "image", "image": {"url": "u"}},
                {"msgtype": "text", "text": {"content": "show 1"}},
            ]
        },
    }
    assert aibot_command(mixed, NOW, [])[0].text == "/incident show 1"  # type: ignore[index]
    direct = {**group, "chattype": "single", "chatid": "", "msgtype": "voice"}
    direct["voice"] = {"content": "ack 2"}
    request, where = aibot_command(direct, NOW, [])  # type: ignore[misc]
    assert request.chat == Destination("wecom", "alice") and not where.group
    assert aibot_command({**group, "msgtype": "image"}, NOW, []) is None


def test_a_recorded_ai_bot_press_with_either_spelling() -> None:
    data = recorded("wecom_aibot_template_card_event_callback")
    data["event"]["template_card_event"]["event_key"] = KEY
    found = aibot_press(data, NOW)
    assert found is not None
    press, where = found
    assert (press.task_id, press.user, press.event_id) == (
        "ALR-20260101-0001-v1",
        "alice",
        "aibot:CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=",
    )
    assert where.response_url.endswith("RESPONSE_CODE")
    body = data["event"]["template_card_event"]
    data["event"]["template_card_event"] = {"eventkey": body["event_key"], "taskid": "T2"}
    again = aibot_press(data, NOW)
    assert again is not None and again[0].task_id == "T2"
    data["event"]["template_card_event"]["eventkey"] = "rollback:ALR-1"
    assert aibot_press(data, NOW) is None


APP = {"agent_id": 1000002, "secret": "s", "token": "t", "encoding_aes_key": "A" * 43}


def test_settings_problems_are_named_by_key() -> None:
    assert validate({"corp_id": "ww1", "app": APP}) == []
    assert validate({"robots": {"ops": {"webhook": "k"}}}) == []
    assert validate({"aibot": {"token": "t", "encoding_aes_key": "B" * 43}}) == []
    assert validate({}) == ["(section): configure at least one of app, aibot or robots"]
    assert validate({"app": APP}) == ["corp_id: required with app (我的企业 → 企业信息 → 企业ID)"]
    problems = validate(
        {
            "corp_id": "ww1",
            "app": {**APP, "encoding_aes_key": "short", "agent_id": 0},
            "robots": {"bad name": {"webhook": "k"}, "ok": {"webhook": "k", "format": "card"}},
            "colour": 1,
        }
    )
    assert "app.encoding_aes_key: the EncodingAESKey has 43 characters" in problems
    assert any(p.startswith("app.agent_id: ") for p in problems)
    assert any(p.startswith("robots.ok.format: ") for p in problems)
    assert "colour: unknown key (check its spelling against config/example.yaml)" in problems
    assert validate({"corp_id": "ww1", "app": {**APP, "secret": None}}) != []
    assert all("s3cret" not in p for p in validate({"app": {**APP, "secret": "s3cret"}}))
    assert validate({"robots": {"bad name": {"webhook": "k"}}}) == [
        "robots: robot name 'bad name': use letters, digits, '_', '-' and '.'"
    ]
    assert validate({"robots": {"ops": {"webhook": "k", "card_url": "ftp://x"}}}) == [
        "robots.ops.card_url: must be an http(s) URL"
    ]


def test_the_example_section_is_valid() -> None:
    example = Path(__file__).parents[3] / "config" / "example.yaml"
    raw = base_config(wecom=yaml.safe_load(example.read_text(encoding="utf-8"))["wecom"])
    assert check_adapters(parse_settings(raw, env=EXAMPLE_ENV)) == []
