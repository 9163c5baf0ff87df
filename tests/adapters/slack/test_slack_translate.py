"""Slack payloads into neutral requests, and the adapter's settings section."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from slack_support import recorded

from adapters.chat.slack import validate
from adapters.chat.slack.translate import (
    after_mention,
    card_action,
    message_command,
    plain_text,
    slash_command,
    slash_text,
)
from bot.model import ActionKind, Destination, Sender

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        ("/deploy", "orders v1.4.2 prod", "/deploy orders v1.4.2 prod"),
        ("/ACK", " 1 ", "/ack 1"),
        ("/rollback", "", "/rollback"),
        ("/tocsin", "ack 1", "/ack 1"),
        ("/tocsin", "/silence 1 2h", "/silence 1 2h"),
        ("/tocsin", "", "/help"),
        ("/tocsin", "help", "/help"),
        ("/whatever", "x", "/help"),
    ],
)
def test_slash_commands_become_one_canonical_text(command: str, text: str, expected: str) -> None:
    assert slash_text(command, text) == expected


def test_a_recorded_slash_command() -> None:
    request, where = slash_command(recorded("slack_slash_command_callback"), NOW)
    assert request.text == "/rollback payment-api --to v41"
    assert request.sender == Sender("slack", "U0ALICE", "alice")
    assert request.chat == Destination("slack", "C0123ALERTS")
    assert request.event_id == "command:111.222.abc"
    assert (where.channel, where.user, where.thread_ts) == ("C0123ALERTS", "U0ALICE", None)


def test_mentions_and_direct_messages() -> None:
    def text_of(event: dict[str, str]) -> str | None:
        found = message_command(event, "Ev1", NOW, bot_user_id="U0BOT", bot_names=["tocsin"])
        return found[0].text if found else None

    base = {"user": "U0ALICE", "channel": "C1"}
    assert text_of({**base, "text": "<@U0BOT> deploy orders v1.4.2 prod"}) == (
        "/deploy orders v1.4.2 prod"
    )
    assert text_of({**base, "text": "hey <@U0BOT|tocsin>: /ack 1"}) == "/ack 1"
    assert text_of({**base, "text": "<@U0BOT>"}) == "/help"
    assert text_of({**base, "text": "ack 1", "channel_type": "im"}) == "/ack 1"
    assert text_of({**base, "text": "@tocsin ack 1", "channel_type": "im"}) == "/ack 1"
    assert text_of({**base, "text": "x", "bot_id": "B1"}) is None
    assert text_of({**base, "text": "x", "subtype": "message_changed"}) is None
    found = message_command(
        {**base, "text": "<@U0BOT> ack 1", "thread_ts": "1.2"}, "Ev9", NOW, bot_user_id="U0BOT",
        bot_names=[],
    )  # fmt: skip
    assert found is not None
    assert found[0].event_id == "event:Ev9" and found[1].thread_ts == "1.2"


def test_slack_markup_is_read_as_typed() -> None:
    assert plain_text("deploy <http://orders.io|orders.io> &lt;v2&gt; &amp;") == (
        "deploy orders.io <v2> &"
    )
    assert plain_text("<#C123|alerts> <@U1> <!here> <https://x.io>") == (
        "#alerts <@U1> <!here> https://x.io"
    )
    assert after_mention("a <@UB>: b", "UB") == "b"
    assert after_mention("a <@UX> b", "UB") == "a <@UX> b"


def test_a_recorded_button_press() -> None:
    body = recorded("slack_block_actions_callback")
    body["actions"][0]["value"] = '{"r":"incident:7","a":"ack","v":""}'
    found = card_action(body, body["actions"][0], NOW)
    assert found is not None
    request, where = found
    assert (request.action, request.card_ref, request.value) == (ActionKind.ACK, "incident:7", "")
    assert request.event_id == "action:111.222.abc:1767225660.123456"
    assert where.thread_ts == "1767225600.000100" and not where.private_in_thread
    body["actions"][0]["value"] = '{"action":"ack","alert_id":"ALR-1"}'  # not a Tocsin button
    assert card_action(body, body["actions"][0], NOW) is None


def test_settings_problems_are_named_by_key() -> None:
    good = {"bot_token": "xoxb-1", "app_token": "xapp-1"}
    assert validate(good) == []
    assert validate({"mode": "http", "bot_token": "xoxb-1", "signing_secret": "s"}) == []
    assert validate({"bot_token": "xoxb-1"}) == [
        "app_token: required in socket mode (an xapp-… token with connections:write)"
    ]
    assert validate({"mode": "http", "bot_token": "xoxb-1"}) == [
        "signing_secret: required in http mode (Basic Information → Signing Secret)"
    ]
    problems = validate({**good, "bot_token": "xoxp-1", "colour": 1, "burst": 0, "mode": "x"})
    assert problems[0].startswith("mode: ")
    assert "bot_token: must be the Bot User OAuth Token, starting with xoxb-" in problems
    assert any(p.startswith("burst: ") for p in problems)
    assert "colour: unknown key (check its spelling against config/example.yaml)" in problems
    assert validate({}) == ["bot_token: required key is missing"]
    assert validate({**good, "timeout": "soon"})[0].startswith("timeout: ")
    assert all("xoxb-1" not in p for p in validate({**good, "api_url": "ftp://x"}))
