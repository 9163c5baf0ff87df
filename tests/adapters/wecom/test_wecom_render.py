"""Template cards, robot messages and button keys: the recorded shapes, tiers, limits, inert
alert text."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from wecom_support import recorded

from adapters.chat.wecom.keys import Key, action_key, cancel_key, parse_key
from adapters.chat.wecom.render import after_action, confirm_card, guess_language, template_card
from adapters.chat.wecom.robot_render import markdown, robot_message, text_notice
from adapters.chat.wecom.text import cut_bytes
from bot.model import ActionKind, Button, ButtonStyle, Card, Field, Tier


def alert_card(**changes: Any) -> Card:
    card = Card(
        ref="incident:7",
        title="payment-api error rate > 5%",
        tier=Tier.P1,
        status="triggered",
        fields=(Field("Service", "payment-api"), Field("Env", "prod"), Field("Severity", "P1")),
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


def test_the_card_has_the_recorded_shape() -> None:
    example = recorded("wecom_app_message_send_button_interaction")["template_card"]
    shown = template_card(alert_card(), "en", "task-1")
    assert set(example) <= set(shown)
    assert shown["card_type"] == "button_interaction" and shown["task_id"] == "task-1"
    assert shown["main_title"]["title"] == "[P1] payment-api error rate > 5%"
    assert shown["horizontal_content_list"] == example["horizontal_content_list"]
    assert [(b["text"], b["style"]) for b in shown["button_list"]] == [
        (b["text"], b["style"]) for b in example["button_list"]
    ]
    assert shown["sub_title_text"] == "5xx over 5 % for 10 minutes"


def test_a_p0_looks_different_from_a_p3() -> None:
    p0 = template_card(alert_card(tier=Tier.P0), "en", "t")
    p3 = template_card(alert_card(tier=Tier.P3), "en", "t")
    assert p0["source"] == {"desc": "🔴 P0 · Tocsin", "desc_color": 2}
    assert p3["source"] == {"desc": "⚪ P3 · Tocsin", "desc_color": 0}
    resolved = template_card(alert_card(status="resolved"), "en", "t")
    assert resolved["source"]["desc_color"] == 3
    assert markdown(alert_card(tier=Tier.P0)).startswith('### 🔴 <font color="warning">[P0]')
    assert markdown(alert_card(tier=Tier.P3)).startswith('### ⚪ <font color="comment">[P3]')


def test_buttons_carry_keys_read_back_and_rollback_asks_first() -> None:
    buttons = template_card(alert_card(), "en", "t")["button_list"]
    keys = [parse_key(b["key"]) for b in buttons]
    assert keys == [
        Key("ask", "incident:7", ActionKind.ROLLBACK, "payment-api/prod"),
        Key("press", "incident:7", ActionKind.ACK, ""),
        Key("press", "incident:7", ActionKind.SILENCE, "1h"),
    ]
    assert json.loads(buttons[2]["key"]) == {"r": "incident:7", "a": "silence", "v": "1h", "i": 2}
    rollback = alert_card().buttons[0]
    asking = confirm_card(alert_card(), rollback, 0, "zh", "t")
    assert asking["quote_area"]["quote_text"] == "Roll back payment-api in prod?"
    confirm, cancel = asking["button_list"]
    assert parse_key(confirm["key"]) == Key(
        "confirmed", "incident:7", ActionKind.ROLLBACK, "payment-api/prod"
    )
    assert (cancel["text"], parse_key(cancel["key"])) == ("取消", Key("cancel", "incident:7"))
    assert parse_key(cancel_key("incident:7")) == Key("cancel", "incident:7")
    assert parse_key(action_key("digest:2", ActionKind.ACK, "", 0, step="press")) == Key(
        "press", "digest:2", ActionKind.ACK, ""
    )
    for junk in ("", "{", "[]", '{"r": "x", "a": "dance"}', '{"a": "ack"}', None, "x" * 2000):
        assert parse_key(junk) is None
    assert parse_key('{"x":"noop"}') == Key("noop")


def test_limits_are_respected() -> None:
    card = alert_card(
        title="t" * 400,
        body="b" * 10_000,
        fields=tuple(Field(f"label {i}" * 5, "v" * 500) for i in range(20)),
        buttons=tuple(Button(f"B{i} " + "x" * 100, ActionKind.ACK, str(i)) for i in range(20)),
    )
    shown = template_card(card, "en", "t")
    assert len(shown["main_title"]["title"]) <= 36 and shown["main_title"]["title"].endswith("…")
    assert len(shown["sub_title_text"]) <= 160
    assert len(shown["horizontal_content_list"]) == 6
    assert all(len(f["value"]) <= 30 for f in shown["horizontal_content_list"])
    assert len(shown["button_list"]) == 6
    assert all(len(b["text"]) <= 16 for b in shown["button_list"])
    assert len({b["key"] for b in shown["button_list"]}) == 6


def test_a_card_without_buttons_shows_its_status_greyed_on_update() -> None:
    done = alert_card(status="resolved", buttons=())
    sent = template_card(done, "zh", "t")
    assert [b["text"] for b in sent["button_list"]] == ["已恢复"]
    assert "replace_text" not in sent and parse_key(sent["button_list"][0]["key"]) == Key("noop")
    assert template_card(done, "en", "t", for_update=True)["replace_text"] == "Resolved"


def test_after_an_action_the_status_follows_and_the_buttons_close() -> None:
    card = alert_card(fields=(Field("Service", "x"), Field("Status", "Triggered")))
    acked, label = after_action(card, ActionKind.ACK, "en")
    assert (acked.status, acked.buttons, label) == ("acknowledged", (), "Acknowledged")
    assert [f.label for f in acked.fields] == ["Service"], "the stale status field is left out"
    rolled, label = after_action(card, ActionKind.ROLLBACK, "zh")
    assert (rolled.status, label) == ("triggered", "回滚")
    assert (guess_language("事件 #1"), guess_language("Incident #1")) == ("zh", "en")


def test_after_unsilence_the_status_is_what_the_silence_covered() -> None:
    unsilence = Button("Unsilence", ActionKind.UNSILENCE)
    silenced = alert_card(status="silenced", buttons=(unsilence,))
    live, label = after_action(silenced, ActionKind.UNSILENCE, "en")
    assert (live.status, label) == ("triggered", "Triggered")
    held = alert_card(status="silenced", buttons=(Button("Unack", ActionKind.UNACK), unsilence))
    live, label = after_action(held, ActionKind.UNSILENCE, "zh")
    assert (live.status, label) == ("acknowledged", "已认领")


def test_robot_markdown_keeps_alert_text_inert_and_the_links() -> None:
    card = alert_card(
        title="<@all> [click](https://evil) down",
        body='see <font color="info">x</font> `code`\n' + "长" * 3000,
        buttons=tuple(
            Button(label, ActionKind.ACK, url=f"https://tocsin.test/a/{n}")
            for n, label in enumerate(["Acknowledge", "Resolve"])
        ),
    )
    content = markdown(card)
    assert "<@all>" not in content and "[click](https://evil)" not in content
    assert "＜@all＞" in content and '<font color="info">x' not in content
    assert len(content.encode()) <= 4096
    assert content.endswith(
        "[Acknowledge](https://tocsin.test/a/0)  [Resolve](https://tocsin.test/a/1)"
    )
    resolved = markdown(alert_card(status="resolved", buttons=()))
    assert '<font color="info">' in resolved.splitlines()[0]
    assert resolved.splitlines()[1] == '<font color="info">✅ Resolved</font> · Incident #7 · ops'


def test_text_notice_takes_three_links_one_per_kind_first() -> None:
    links = tuple(
        Button(label, kind, url=f"https://tocsin.test/a/{n}")
        for n, (label, kind) in enumerate(
            [
                ("Acknowledge", ActionKind.ACK),
                ("Silence 30m", ActionKind.SILENCE),
                ("Silence 2h", ActionKind.SILENCE),
                ("Resolve", ActionKind.RESOLVE),
                ("Rollback", ActionKind.ROLLBACK),
            ]
        )
    )
    notice = text_notice(alert_card(buttons=links), "en", None)
    assert [j["title"] for j in notice["jump_list"]] == ["Acknowledge", "Silence 30m", "Resolve"]
    assert notice["card_action"] == {"type": 1, "url": "https://tocsin.test/a/0"}
    assert notice["emphasis_content"] == {"title": "P1", "desc": "Triggered"}
    example = recorded("wecom_group_robot_webhook_text_notice")["template_card"]
    assert set(example) - {"quote_area"} <= set(notice) | {"sub_title_text"}
    without_links = robot_message(alert_card(buttons=()), "en", "text_notice")
    assert without_links["msgtype"] == "markdown", "text_notice needs a link for card_action"


@pytest.mark.parametrize("limit", range(1, 30))
def test_cutting_bytes_never_splits_a_character(limit: int) -> None:
    text = "告警abc告警" * 3
    cut = cut_bytes(text, limit)
    assert len(cut.encode()) <= max(limit, len("…".encode()))
    cut.encode().decode("utf-8")
