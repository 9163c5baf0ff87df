"""`FeishuPlatform` with the real lark-oapi client against the fake Open API on 127.0.0.1 (its
``domain`` builder option pointed at the fake): the chat-platform contract, direct messages, the
tenant token, and Feishu's failures as delivery errors."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from fake_feishu import FakeOpenApi
from feishu_support import ALICE, BOB_UNION, CHAT, buttons, config, new_app_id, recorded

from adapters.chat.feishu import FeishuAdapter, create
from adapters.chat.feishu.settings import parse
from bot.clock import FakeClock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.model import ActionKind, Button, Card, Destination, Field, Tier
from bot.ports import PostedRef
from bot.replay import MemoryReplays

ALERTS = Destination("feishu", CHAT)
CREATE = "POST /open-apis/im/v1/messages"
PATCH = "PATCH /open-apis/im/v1/messages/:id"
REPLY = "POST /open-apis/im/v1/messages/:id/reply"
TOKEN = "POST /open-apis/auth/v3/tenant_access_token/internal"


def card(status: str = "triggered") -> Card:
    return Card(
        ref="incident:7",
        title="HighErrorRate · orders",
        tier=Tier.P0,
        status=status,
        fields=(Field("Service", "orders"),),
        body="5xx over 5 %",
        buttons=(Button("Acknowledge", ActionKind.ACK),) if status == "triggered" else (),
    )


def adapter(api: FakeOpenApi, **kwargs: Any) -> FeishuAdapter:
    raw = config(api)["feishu"]
    raw.update(kwargs.pop("feishu", {}))
    return create(raw, clock=FakeClock(), replays=MemoryReplays(), **kwargs)


async def test_a_card_is_posted_and_patched_in_place(open_api: FakeOpenApi) -> None:
    platform = adapter(open_api).platform
    ref = await platform.post_card(ALERTS, card(), lang="en")
    (posted,) = open_api.cards_in(CHAT)
    assert ref.data == {"message_id": posted.message_id, "chat_id": CHAT}
    assert open_api.calls_to(CREATE)[0].query == {"receive_id_type": "chat_id"}
    assert len(buttons(posted.content)) == 1

    again = await platform.update_card(ALERTS, ref, card("acknowledged"), lang="en")
    assert again == ref
    (shown,) = open_api.cards_in(CHAT)
    assert shown.updates == 1 and buttons(shown.content) == []
    assert shown.content["header"]["text_tag_list"][-1]["text"]["content"] == "Acknowledged"


async def test_the_tenant_token_is_fetched_once_and_sent_with_every_call(
    open_api: FakeOpenApi,
) -> None:
    platform = adapter(open_api).platform
    ref = await platform.post_card(ALERTS, card(), lang="en")
    await platform.update_card(ALERTS, ref, card("resolved"), lang="en")
    await platform.post_text(ALERTS, "done", reply_to=ref)
    assert len(open_api.calls_to(TOKEN)) == 1
    assert {c.token for c in open_api.calls if c.path.startswith("/open-apis/im/")} == {
        open_api.tenant_token
    }


async def test_texts_reply_under_their_card_and_are_shown_literally(open_api: FakeOpenApi) -> None:
    platform = adapter(open_api).platform
    ref = await platform.post_card(ALERTS, card(), lang="en")
    await platform.post_text(ALERTS, 'Alice acknowledged #7 <at user_id="all"></at>', reply_to=ref)
    await platform.post_text(ALERTS, "plain", reply_to=None)
    await platform.post_text(ALERTS, "   ", reply_to=None)
    texts = {m.text: m.parent_id for m in open_api.posts_in(CHAT)}
    assert texts == {
        'Alice acknowledged #7 <at user_id="all"></at>': ref.data["message_id"],
        "plain": "",
    }


async def test_people_are_messaged_directly_by_their_kind_of_id(open_api: FakeOpenApi) -> None:
    platform = adapter(open_api, identities={"alice": ALICE, "bob": BOB_UNION}).platform
    await platform.post_text(Destination("feishu", "@alice"), "page 1", reply_to=None)
    ref = await platform.post_card(Destination("feishu", "@bob"), card(), lang="en")
    await platform.post_text(Destination("feishu", f"@{ALICE}"), "page 2", reply_to=None)
    assert [(m.receive_id_type, m.text) for m in open_api.direct(ALICE)] == [
        ("open_id", "page 1"),
        ("open_id", "page 2"),
    ]
    (to_bob,) = open_api.direct(BOB_UNION)
    assert to_bob.receive_id_type == "union_id" and ref.data["message_id"] == to_bob.message_id
    with pytest.raises(PermanentDelivery, match="identities"):
        await platform.post_text(Destination("feishu", "@nobody"), "x", reply_to=None)
    without = adapter(open_api).platform
    with pytest.raises(PermanentDelivery):
        await without.post_card(Destination("feishu", "@alice"), card(), lang="en")


async def test_rate_limits_are_retryable_with_the_reset_time(open_api: FakeOpenApi) -> None:
    platform = adapter(open_api).platform
    open_api.fail(
        CREATE,
        status=429,
        code=99991400,
        msg="request trigger frequency limit",
        headers={"x-ogw-ratelimit-reset": "7"},
    )
    with pytest.raises(RetryableDelivery) as caught:
        await platform.post_card(ALERTS, card(), lang="en")
    assert caught.value.retry_after == 7
    assert "rate limited" in str(caught.value)
    assert len(open_api.calls_to(CREATE)) == 1, "the adapter never retries itself"
    open_api.fail(CREATE, status=400, code=230020, headers={"Retry-After": "2"})
    with pytest.raises(RetryableDelivery) as caught:
        await platform.post_card(ALERTS, card(), lang="en")
    assert caught.value.retry_after == 2


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        ({"status": 500, "code": 1500, "msg": "internal error"}, RetryableDelivery),
        ({"status": 502, "raw": "<html>bad gateway</html>"}, RetryableDelivery),
        ({"status": 400, "code": 99991663, "msg": "invalid tenant token"}, RetryableDelivery),
        ({"status": 400, "code": 230002, "msg": "Bot is not in the chat"}, PermanentDelivery),
        ({"status": 400, "code": 230099, "msg": "card content failed"}, PermanentDelivery),
        ({"status": 403, "code": 99991672, "msg": "no permission"}, PermanentDelivery),
    ],
)
async def test_feishu_errors_map_to_delivery_errors(
    open_api: FakeOpenApi, failure: dict[str, Any], kind: type[Exception]
) -> None:
    open_api.fail(CREATE, **failure)
    with pytest.raises(kind) as caught:
        await adapter(open_api).platform.post_card(ALERTS, card(), lang="en")
    assert isinstance(caught.value.__cause__, Exception) or "code" in str(caught.value)


async def test_permanent_failures(open_api: FakeOpenApi) -> None:
    platform = adapter(open_api).platform
    with pytest.raises(PermanentDelivery, match="230002"):
        await platform.post_card(Destination("feishu", "oc_nowhere"), card(), lang="en")
    with pytest.raises(PermanentDelivery, match="invalid message_id"):
        await platform.update_card(ALERTS, PostedRef({"message_id": "om_gone"}), card(), lang="en")
    with pytest.raises(PermanentDelivery, match="message_id"):
        await platform.update_card(ALERTS, PostedRef({"channel": "C1"}), card(), lang="en")
    with pytest.raises(PermanentDelivery):
        await platform.post_card(Destination("slack", "C1"), card(), lang="en")


async def test_a_wrong_app_secret_is_permanent(open_api: FakeOpenApi) -> None:
    # first of all: lark-oapi caches a tenant token per app id for the whole process
    wrong = adapter(open_api, feishu={"app_secret": "not-the-secret"}).platform
    with pytest.raises(PermanentDelivery, match="10014"):
        await wrong.post_card(ALERTS, card(), lang="en")
    assert open_api.calls_to(CREATE) == []


async def test_timeouts_and_an_unreachable_feishu_are_retryable(open_api: FakeOpenApi) -> None:
    platform = adapter(open_api, feishu={"timeout": "1s"}).platform
    await platform.post_text(ALERTS, "warm the token", reply_to=None)
    release = open_api.hold(CREATE)
    with pytest.raises(RetryableDelivery):
        await platform.post_card(ALERTS, card(), lang="en")
    release.set()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = FakeOpenApi(app_id=new_app_id())
    gone.port = port
    with pytest.raises(RetryableDelivery):
        await adapter(gone).platform.post_card(ALERTS, card(), lang="en")


async def test_the_bot_knows_its_own_open_id(open_api: FakeOpenApi) -> None:
    feishu = adapter(open_api)
    assert await feishu.bot.open_id() == await feishu.bot.open_id()
    assert len(open_api.calls_to("GET /open-apis/bot/v3/info")) == 1
    failing = adapter(open_api)
    open_api.fail("GET /open-apis/bot/v3/info", status=500, code=1500)
    assert await failing.bot.open_id() is None
    assert await failing.bot.open_id() is None, "not asked again at once"
    assert len(open_api.calls_to("GET /open-apis/bot/v3/info")) == 2


def test_capabilities_declare_feishus_rate_per_chat(open_api: FakeOpenApi) -> None:
    raw = config(open_api)["feishu"]
    del raw["rate_per_second"], raw["burst"]
    platform = create(raw, clock=FakeClock(), replays=MemoryReplays()).platform
    caps = platform.capabilities
    assert (caps.buttons, caps.update_in_place, caps.direct_messages) == (True, True, True)
    assert (caps.rate_per_second, caps.burst) == (5.0, 5)
    assert platform.name == "feishu"


def test_feishu_and_lark_domains() -> None:
    base = {"app_id": "cli_a5fb0ae6a4000000", "app_secret": "s"}
    assert parse(base).base_url == "https://open.feishu.cn"
    assert parse(base | {"domain": "lark"}).base_url == "https://open.larksuite.com"
    assert parse(base | {"domain": "LARK"}).base_url == "https://open.larksuite.com"
    assert parse(base | {"domain": "https://feishu.proxy.example:8443/"}).base_url == (
        "https://feishu.proxy.example:8443"
    )


async def test_cards_are_json_2_strings_in_the_request(open_api: FakeOpenApi) -> None:
    await adapter(open_api).platform.post_card(ALERTS, card(), lang="zh")
    (call,) = open_api.calls_to(CREATE)
    example = recorded("feishu_im_v1_message_create_request")
    assert set(call.body) == set(example) - {"uuid"}
    assert call.body["msg_type"] == example["msg_type"] == "interactive"
    assert call.body["receive_id"] == CHAT
    sent = json.loads(call.body["content"])
    assert sent["schema"] == "2.0"
    assert sent["header"]["text_tag_list"][-1]["text"]["content"] == "告警中"
