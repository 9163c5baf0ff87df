"""`WeComAppPlatform` and `WeComRobotPlatform` with our httpx client against the fake WeCom API
on 127.0.0.1: the chat-platform contract, people and robots as destinations, access tokens,
and WeCom's failures as delivery errors."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from fake_wecom import AGENT_ID, FakeWeCom
from wecom_support import wecom_section

from adapters.chat.wecom import WeComAdapter, create
from adapters.chat.wecom.platform import WeComAppPlatform, WeComRobotPlatform
from bot.clock import FakeClock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.model import ActionKind, Button, Card, Destination, Field, Tier
from bot.ports import PostedRef
from bot.replay import MemoryReplays

ALICE = Destination("wecom", "@alice")
OPS = Destination("wecom-robot", "ops")


def card(status: str = "triggered", url: str | None = None) -> Card:
    return Card(
        ref="incident:7",
        title="HighErrorRate · orders",
        tier=Tier.P0,
        status=status,
        fields=(Field("Service", "orders"),),
        body="5xx over 5 %",
        buttons=(Button("Acknowledge", ActionKind.ACK, url=url),) if status == "triggered" else (),
    )


def adapter(api: FakeWeCom, **overrides: Any) -> WeComAdapter:
    identities = overrides.pop("identities", {"alice": "alice"})
    return create(
        wecom_section(api, **overrides),
        clock=FakeClock(),
        replays=MemoryReplays(),
        identities=identities,
    )


def app_of(made: WeComAdapter) -> WeComAppPlatform:
    assert made.app is not None
    return made.app


def robots_of(made: WeComAdapter) -> WeComRobotPlatform:
    assert made.robots is not None
    return made.robots


async def test_a_card_is_sent_and_updated_in_place(wecom_api: FakeWeCom) -> None:
    made = adapter(wecom_api)
    platform = app_of(made)
    ref = await platform.post_card(ALICE, card(), lang="en")
    assert set(ref.data) == {"task_id", "userid", "msgid", "response_code", "status"}
    (sent,) = wecom_api.cards_to("alice")
    assert sent.task_id == ref.data["task_id"] and sent.body["agentid"] == AGENT_ID
    again = await platform.update_card(ALICE, ref, card("acknowledged"), lang="en")
    assert again.data == {**ref.data, "response_code": "", "status": "acknowledged"}
    shown = sent.card
    assert shown["main_title"]["desc"].startswith("🔵 Acknowledged")
    assert shown["replace_text"] == "Acknowledged" and len(shown["button_list"]) == 1
    await made.aclose()


async def test_texts_go_to_the_person(wecom_api: FakeWeCom) -> None:
    made = adapter(wecom_api)
    platform = app_of(made)
    await platform.post_text(ALICE, "Alice acknowledged #7", reply_to=None)
    await platform.post_text(Destination("wecom", "bob"), "x" * 3000, reply_to=None)
    await platform.post_text(ALICE, "  ", reply_to=None)
    assert wecom_api.texts_to("alice") == ["Alice acknowledged #7"]
    (long,) = wecom_api.texts_to("bob")
    assert len(long.encode()) <= 2048 and long.endswith("…")
    await made.aclose()


async def test_people_are_named_by_tocsin_user_or_wecom_userid(wecom_api: FakeWeCom) -> None:
    made = adapter(wecom_api, identities={"alice": "alice", "dave": "nobody-here"})
    platform = app_of(made)
    assert platform.userid(ALICE) == "alice"
    assert platform.userid(Destination("wecom", "carol")) == "carol"
    with pytest.raises(PermanentDelivery, match="identities"):
        await platform.post_text(Destination("wecom", "@zoe"), "x", reply_to=None)
    with pytest.raises(PermanentDelivery, match="81013"):
        await platform.post_text(Destination("wecom", "@dave"), "x", reply_to=None)
    with pytest.raises(PermanentDelivery):
        await platform.post_card(Destination("console", "ops"), card(), lang="en")
    with pytest.raises(PermanentDelivery, match="task_id and userid"):
        await platform.update_card(ALICE, PostedRef({"channel": "x"}), card(), lang="en")
    await made.aclose()


async def test_the_token_is_fetched_once_and_again_when_expired(wecom_api: FakeWeCom) -> None:
    made = adapter(wecom_api)
    platform = app_of(made)
    for _ in range(3):
        await platform.post_text(ALICE, "hi", reply_to=None)
    assert len(wecom_api.calls_to("gettoken")) == 1
    wecom_api.expire_tokens()
    await platform.post_text(ALICE, "hi", reply_to=None)
    assert len(wecom_api.calls_to("gettoken")) == 2
    refused, fresh = [c.query["access_token"] for c in wecom_api.calls_to("message/send")][-2:]
    assert refused != fresh, "refused with the old token, sent again with the new one"
    wrong = adapter(wecom_api, app={**wecom_section(wecom_api)["app"], "secret": "nope"})
    with pytest.raises(PermanentDelivery, match="40001"):
        await app_of(wrong).post_text(ALICE, "hi", reply_to=None)
    await made.aclose()
    await wrong.aclose()


@pytest.mark.parametrize(
    ("errcode", "status", "kind", "retry_after"),
    [
        (45009, 200, RetryableDelivery, 60.0),
        (45033, 200, RetryableDelivery, 60.0),
        (-1, 200, RetryableDelivery, None),
        (0, 500, RetryableDelivery, None),
        (0, 429, RetryableDelivery, 7.0),
        (60020, 200, PermanentDelivery, None),
        (40058, 200, PermanentDelivery, None),
        (0, 404, PermanentDelivery, None),
    ],
)
async def test_wecom_errors_map_to_delivery_errors(
    wecom_api: FakeWeCom,
    errcode: int,
    status: int,
    kind: type[Exception],
    retry_after: float | None,
) -> None:
    made = adapter(wecom_api)
    wecom_api.fail(
        "message/send", errcode=errcode, status=status, retry_after=7 if status == 429 else None
    )
    with pytest.raises(kind) as caught:
        await app_of(made).post_card(ALICE, card(), lang="en")
    if isinstance(caught.value, RetryableDelivery):
        assert caught.value.retry_after == retry_after
    assert len(wecom_api.calls_to("message/send")) == 1, "the adapter never retries itself"
    await made.aclose()


async def test_timeouts_and_unreachable_wecom_are_retryable(wecom_api: FakeWeCom) -> None:
    release = wecom_api.hold("webhook/send")
    slow = adapter(wecom_api, timeout="1s")
    with pytest.raises(RetryableDelivery) as caught:
        await robots_of(slow).post_card(OPS, card(), lang="en")
    assert "key-ops" not in str(caught.value), "the robot key never shows"
    release.set()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = adapter(wecom_api, api_url=f"http://127.0.0.1:{port}/")
    with pytest.raises(RetryableDelivery):
        await robots_of(gone).post_card(OPS, card(), lang="en")
    await slow.aclose()
    await gone.aclose()


async def test_robots_post_markdown_or_text_notice(wecom_api: FakeWeCom) -> None:
    made = adapter(
        wecom_api,
        robots={
            "ops": {"webhook": "key-ops"},
            "sre": {
                "webhook": f"{wecom_api.base_url}cgi-bin/webhook/send?key=key-sre",
                "format": "text_notice",
                "card_url": "https://grafana.example/d/1",
            },
        },
    )
    wecom_api.robot_keys["key-sre"] = "sre"
    robots = robots_of(made)
    linked = card(url="https://tocsin.test/a/tok")
    ref = await robots.post_card(OPS, linked, lang="en")
    assert ref.data == {"robot": "ops"}
    await robots.post_card(Destination("wecom-robot", "sre"), linked, lang="en")
    await robots.post_text(OPS, "Alice acknowledged #7 <@all>", reply_to=ref)
    markdown, text = wecom_api.robot("ops")
    assert "[Acknowledge](https://tocsin.test/a/tok)" in markdown["markdown"]["content"]
    assert text == {"msgtype": "text", "text": {"content": "Alice acknowledged #7 <@all>"}}
    (notice,) = wecom_api.robot("sre")
    template = notice["template_card"]
    assert template["card_type"] == "text_notice"
    assert template["jump_list"] == [
        {"type": 1, "title": "Acknowledge", "url": "https://tocsin.test/a/tok"}
    ]
    assert template["card_action"] == {"type": 1, "url": "https://grafana.example/d/1"}
    assert template["emphasis_content"]["title"] == "P0"
    again = await robots.update_card(OPS, ref, card("resolved"), lang="en")
    assert again == ref and len(wecom_api.robot("ops")) == 3, "robots post changes anew"
    with pytest.raises(PermanentDelivery, match="no robot named 'dev'"):
        await robots.post_card(Destination("wecom-robot", "dev"), linked, lang="en")
    wecom_api.robot_keys.clear()
    with pytest.raises(PermanentDelivery, match="93000"):
        await robots.post_text(OPS, "x", reply_to=None)
    await made.aclose()


def test_capabilities_keep_within_wecom_limits(wecom_api: FakeWeCom) -> None:
    made = adapter(wecom_api, robot_burst=5, app={**wecom_section(wecom_api)["app"], "burst": 4})
    app, robots = app_of(made).capabilities, robots_of(made).capabilities
    assert (app.buttons, app.update_in_place, app.direct_messages) == (True, True, True)
    assert app.burst + app.rate_per_second * 60 <= 30
    assert app.burst + app.rate_per_second * 3600 <= 1000
    assert (robots.buttons, robots.update_in_place, robots.direct_messages) == (False, False, False)
    assert robots.burst == 5 and robots.burst + robots.rate_per_second * 60 == pytest.approx(20)
    assert [p.name for p in made.platforms] == ["wecom", "wecom-robot"]
    only_robots = adapter(wecom_api, app=None, aibot=None, corp_id="")
    assert [p.name for p in only_robots.platforms] == ["wecom-robot"]
    assert only_robots.routes(_NoInbound()) == []


class _NoInbound:
    async def command(self, request: Any) -> Any:
        raise AssertionError("not called")

    async def action(self, request: Any) -> Any:
        raise AssertionError("not called")

    async def accept(self, request: Any, route: dict[str, Any]) -> bool:
        raise AssertionError("not called")

    def on_resume(self, platform: str, resume: Any) -> None:
        self.resume = resume
