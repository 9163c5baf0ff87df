"""Feishu events as neutral requests: the recorded payloads, mentions, message kinds, identities."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fake_feishu import BOT_OPEN_ID
from feishu_support import ALICE, BOB_UNION, CHAT, message_event, recorded

from adapters.chat.feishu.ids import receive_id_type, sender_id
from adapters.chat.feishu.translate import Where, card_action, message_command
from bot.model import ActionKind, Destination, Sender

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
RECORDED_BOT = "ou_bot_open_id"  # the bot's open_id in the recorded event


def command(
    event: dict[str, Any], *, bot: str | None = BOT_OPEN_ID, known: set[str] | None = None
) -> Any:
    return message_command(event, NOW, known=known or set(), bot_open_id=bot, bot_names=["tocsin"])


def with_text(
    event: dict[str, Any], text: str, mentions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    event["event"]["message"]["content"] = json.dumps({"text": text})
    if mentions is not None:
        event["event"]["message"]["mentions"] = mentions
    return event


def mention(key: str, open_id: str, name: str) -> dict[str, Any]:
    return {"key": key, "id": {"open_id": open_id, "union_id": "", "user_id": ""}, "name": name}


def test_the_recorded_group_message_is_a_command() -> None:
    event = recorded("feishu_im_message_receive_v1_event")
    request, where = command(event, bot=RECORDED_BOT)
    assert request.text == "/rollback payment-api v41"
    assert request.sender == Sender("feishu", "ou_84aad35d084aa403a838cf73ee18467")
    assert request.chat == Destination("feishu", "oc_5ce6d572455d361153b7xx51da133945")
    assert request.event_id == "message:om_5ce6d572455d361153b7cb51da133945"
    assert request.received_at == NOW
    assert where == Where(
        "oc_5ce6d572455d361153b7xx51da133945",
        "ou_84aad35d084aa403a838cf73ee18467",
        message_id="om_5ce6d572455d361153b7cb51da133945",
    )


def test_until_the_bot_is_known_a_leading_mention_addresses_it() -> None:
    request, _ = command(recorded("feishu_im_message_receive_v1_event"), bot=None)
    assert request.text == "/rollback payment-api v41"
    talk = with_text(recorded("feishu_im_message_receive_v1_event"), "hello @_user_1")
    assert command(talk, bot=None) is None


def test_a_group_message_for_someone_else_is_not_a_command() -> None:
    event = with_text(
        message_event("x"), "@_user_1 ack 1", [mention("@_user_1", "ou_someone", "Someone")]
    )
    assert command(event) is None


def test_what_follows_the_bot_mention_is_the_command() -> None:
    others = [mention("@_user_2", "ou_bob", "Bob Wang")]
    bot = {"key": "@_user_1", "id": {"open_id": BOT_OPEN_ID}, "name": "Tocsin"}
    event = with_text(message_event("x"), "hey @_user_1  silence 1 2h  @_user_2", [bot, *others])
    request, _ = command(event)
    assert request.text == "/silence 1 2h @Bob Wang"
    event = with_text(message_event("x"), "@_user_1 /ack 1", [bot])
    assert command(event)[0].text == "/ack 1"
    event = with_text(message_event("x"), "@_user_1", [bot])
    assert command(event)[0].text == "/help", "a bare mention asks for help"
    event = with_text(message_event("x"), "@_user_1 @tocsin ack 2", [bot])
    assert command(event)[0].text == "/ack 2"


def test_direct_messages_need_no_mention() -> None:
    request, where = command(
        message_event("ack 1", chat="oc_p2p", chat_type="p2p", mention_bot=False)
    )
    assert request.text == "/ack 1" and where.direct and where.chat_id == "oc_p2p"
    request, _ = command(message_event("/incident list", chat_type="p2p", mention_bot=False))
    assert request.text == "/incident list"
    request, _ = command(message_event("／ack 3", chat_type="p2p", mention_bot=False))
    assert request.text == "/ack 3", "a full-width slash too"


def test_rich_text_posts_are_read() -> None:
    event = message_event("x")
    post = {
        "title": "",
        "content": [
            [
                {"tag": "at", "user_id": "@_user_1", "user_name": "Tocsin"},
                {"tag": "text", "text": " deploy"},
            ],
            [{"tag": "text", "text": "orders v1.4.2 prod"}, {"tag": "img", "image_key": "img_x"}],
        ],
    }
    event["event"]["message"].update(message_type="post", content=json.dumps(post))
    request, _ = command(event)
    assert request.text == "/deploy\norders v1.4.2 prod"
    event["event"]["message"]["content"] = json.dumps({"zh_cn": post})
    assert command(event)[0].text == "/deploy\norders v1.4.2 prod"


def test_what_is_not_a_command() -> None:
    image = message_event("x")
    image["event"]["message"].update(message_type="image", content=json.dumps({"image_key": "k"}))
    broken = message_event("x")
    broken["event"]["message"]["content"] = "{not json"
    listed = message_event("x")
    listed["event"]["message"]["content"] = "[1, 2]"
    from_a_bot = message_event("ack 1")
    from_a_bot["event"]["sender"]["sender_type"] = "app"
    no_chat = message_event("ack 1")
    no_chat["event"]["message"]["chat_id"] = ""
    for event in (image, broken, listed, from_a_bot, no_chat, {}, {"event": "x"}):
        assert command(event) is None


def test_a_message_in_a_thread_is_answered_in_it() -> None:
    _, where = command(message_event("ack 1", thread_id="omt_1"))
    assert where.in_thread
    _, where = command(message_event("ack 1"))
    assert not where.in_thread


def test_the_recorded_press_of_a_foreign_button_is_ignored() -> None:
    assert card_action(recorded("feishu_card_action_trigger_callback"), NOW, known=set()) is None


def test_a_press_of_a_tocsin_button() -> None:
    press = recorded("feishu_card_action_trigger_callback")
    press["event"]["action"]["value"] = {"r": "incident:3", "a": "silence", "v": "2h"}
    request, where = card_action(press, NOW, known=set())
    assert (request.action, request.card_ref, request.value) == (
        ActionKind.SILENCE,
        "incident:3",
        "2h",
    )
    assert request.event_id == "action:f7984f25108f8137722bb63cxxxxx"
    assert request.sender == Sender("feishu", "ou_3c14f3a59eaf2825dbe25359f15xxxxx")
    assert request.chat == Destination("feishu", "oc_e4d2605ca917e695f54f11aaf56xxxxx")
    assert where.message_id == "om_574d639e4a44e4dd646eaf628e2xxxxx"
    assert where.user == "ou_3c14f3a59eaf2825dbe25359f15xxxxx"
    known = {"on_cad4860e7af114fb4ff6c5d496dxxxxx"}
    by_union, _ = card_action(press, NOW, known=known)
    assert by_union.sender.platform_user_id == "on_cad4860e7af114fb4ff6c5d496dxxxxx"
    press["event"]["context"] = {}
    assert card_action(press, NOW, known=set()) is None


def test_people_are_named_by_the_id_a_tocsin_user_has() -> None:
    ids = {"open_id": ALICE, "union_id": BOB_UNION, "user_id": "e33ggbyz"}
    assert sender_id(ids, set()) == ALICE, "open_id when nobody has any"
    assert sender_id(ids, {BOB_UNION}) == BOB_UNION
    assert sender_id(ids, {"e33ggbyz"}) == "e33ggbyz"
    assert sender_id(ids, {ALICE, BOB_UNION}) == ALICE
    assert sender_id({"user_id": "u1"}, set()) == "u1"
    assert sender_id({}, set()) == ""
    assert [receive_id_type(x) for x in (ALICE, BOB_UNION, "e33ggbyz")] == [
        "open_id",
        "union_id",
        "user_id",
    ]


def test_sender_unknown_in_recorded_chat_still_gets_a_chat() -> None:
    request, _ = command(message_event("ack 1"))
    assert request.chat == Destination("feishu", CHAT)
