"""The app robot's and the custom robots' platforms with our httpx client against the fake
DingTalk on 127.0.0.1: the chat-platform contract, access tokens, and DingTalk's failures as
delivery errors (the adapter never retries by itself)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from dingtalk_support import ALICE, GROUP, TEMPLATE, section
from fake_dingtalk import ROBOT_SECRET, FakeDingTalkApi

from adapters.chat.dingtalk import DingTalkAdapter, create
from bot.clock import FakeClock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.model import ActionKind, Button, ButtonStyle, Card, Destination, Field, Tier
from bot.ports import PostedRef
from bot.replay import MemoryReplays

OPS = Destination("dingtalk", GROUP)
ROBOT = Destination("dingtalk-robot", "ops")
CREATE = "/v1.0/card/instances/createAndDeliver"
TOKEN = "/v1.0/oauth2/accessToken"


def card(status: str = "triggered", tier: Tier = Tier.P0) -> Card:
    return Card(
        ref="incident:7",
        title="HighErrorRate · orders",
        tier=tier,
        status=status,
        fields=(Field("Service", "orders"),),
        body="5xx over 5 % <b>now</b>",
        buttons=(
            Button("Acknowledge", ActionKind.ACK, style=ButtonStyle.PRIMARY),
            Button("Rollback", ActionKind.ROLLBACK, "orders/prod", ButtonStyle.DANGER, "Sure?"),
        )
        if status == "triggered"
        else (),
        footer="Incident #7 · ops",
    )


@pytest.fixture
async def make(
    dingtalk: FakeDingTalkApi, clock: FakeClock
) -> AsyncIterator[Callable[..., DingTalkAdapter]]:
    made: list[DingTalkAdapter] = []

    def build(identities: dict[str, str] | None = None, **overrides: Any) -> DingTalkAdapter:
        adapter = create(
            section(dingtalk, **overrides),
            clock=clock,
            replays=MemoryReplays(),
            identities=identities,
        )
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        await adapter.aclose()


def app(adapter: DingTalkAdapter) -> Any:
    assert adapter.platform is not None
    return adapter.platform


def robot(adapter: DingTalkAdapter) -> Any:
    assert adapter.robot is not None
    return adapter.robot


async def test_a_card_is_created_and_updated_in_place(
    make: Callable[..., DingTalkAdapter], dingtalk: FakeDingTalkApi
) -> None:
    platform = app(make())
    ref = await platform.post_card(OPS, card(), lang="en")
    out_track_id = ref.data["out_track_id"]
    shown = dingtalk.cards[out_track_id]
    assert (shown.template, shown.space) == (TEMPLATE, f"dtv1.card//IM_GROUP.{GROUP}")
    assert shown.public["body"] == (
        '<font color="#E53935">🚨 **Triggered**</font>\n\n5xx over 5 % ＜b＞now＜/b＞'
    ), "the badge, then the body without markup from alerts"
    again = await platform.update_card(OPS, ref, card("acknowledged"), lang="en")
    assert again == ref and shown.updates == 1
    assert (shown.public["status"], shown.public["has_buttons"]) == ("acknowledged", "false")
    assert shown.public["buttons"] == "[]"


async def test_texts_go_to_the_group_and_to_people(
    make: Callable[..., DingTalkAdapter], dingtalk: FakeDingTalkApi
) -> None:
    platform = app(make(identities={"alice": ALICE}))
    await platform.post_text(
        OPS, "Alice acknowledged #7", reply_to=PostedRef({"out_track_id": "x"})
    )
    await platform.post_text(Destination("dingtalk", "@alice"), "page 1", reply_to=None)
    await platform.post_text(Destination("dingtalk", "@manager4220"), "page 2", reply_to=None)
    await platform.post_text(OPS, "  ", reply_to=None)
    assert [(m["to"], m["content"]) for m in dingtalk.sent] == [
        (GROUP, "Alice acknowledged #7"),
        (f"@{ALICE}", "page 1"),
        ("@manager4220", "page 2"),
    ]


async def test_the_access_token_is_cached_until_it_expires_or_is_refused(
    make: Callable[..., DingTalkAdapter], dingtalk: FakeDingTalkApi, clock: FakeClock
) -> None:
    platform = app(make())
    for _ in range(3):
        await platform.post_text(OPS, "x", reply_to=None)
    assert len(dingtalk.calls_to(TOKEN)) == 1
    clock.advance(timedelta(seconds=7200 - 299))  # within five minutes of expiry
    await platform.post_text(OPS, "x", reply_to=None)
    assert len(dingtalk.calls_to(TOKEN)) == 2
    dingtalk.revoke_tokens()
    with pytest.raises(RetryableDelivery, match="access token refused"):
        await platform.post_text(OPS, "x", reply_to=None)
    await platform.post_text(OPS, "x", reply_to=None)
    assert len(dingtalk.calls_to(TOKEN)) == 3, "a refused token is replaced"


async def test_wrong_app_credentials_are_permanent(make: Callable[..., DingTalkAdapter]) -> None:
    platform = app(make(client_secret="wrong"))
    with pytest.raises(PermanentDelivery, match="invalidClientIdOrSecret"):
        await platform.post_card(OPS, card(), lang="en")


async def test_rate_limits_are_retryable_with_retry_after(
    make: Callable[..., DingTalkAdapter], dingtalk: FakeDingTalkApi
) -> None:
    platform = app(make())
    dingtalk.fail(CREATE, status=429, body={"code": "Throttling.Api"}, retry_after=7)
    with pytest.raises(RetryableDelivery) as caught:
        await platform.post_card(OPS, card(), lang="en")
    assert caught.value.retry_after == 7
    assert len(dingtalk.calls_to(CREATE)) == 1, "the adapter never retries itself"
    dingtalk.fail(CREATE, status=403, body={"code": "Forbidden.AccessDenied.QpsLimitForApi"})
    with pytest.raises(RetryableDelivery):
        await platform.post_card(OPS, card(), lang="en")


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (500, {"code": "ServiceUnavailable"}, RetryableDelivery),
        (503, {}, RetryableDelivery),
        (400, {"code": "param.invalid", "message": "bad template"}, PermanentDelivery),
        (403, {"code": "Forbidden.AccessDenied.AccessTokenPermissionDenied"}, PermanentDelivery),
    ],
)
async def test_dingtalk_errors_map_to_delivery_errors(
    make: Callable[..., DingTalkAdapter],
    dingtalk: FakeDingTalkApi,
    status: int,
    body: dict[str, str],
    kind: type[Exception],
) -> None:
    dingtalk.fail(CREATE, status=status, body=body)
    with pytest.raises(kind):
        await app(make()).post_card(OPS, card(), lang="en")


async def test_permanent_failures(make: Callable[..., DingTalkAdapter]) -> None:
    platform = app(make())
    with pytest.raises(PermanentDelivery, match="robot not in the group"):
        await platform.post_card(Destination("dingtalk", "cidNOWHERE=="), card(), lang="en")
    with pytest.raises(PermanentDelivery, match="cardNotExist"):
        await platform.update_card(OPS, PostedRef({"out_track_id": "gone"}), card(), lang="en")
    with pytest.raises(PermanentDelivery, match="out_track_id"):
        await platform.update_card(OPS, PostedRef({"ts": "1.2"}), card(), lang="en")
    with pytest.raises(PermanentDelivery):
        await platform.post_card(Destination("slack", "C1"), card(), lang="en")
    with pytest.raises(PermanentDelivery, match="names nobody"):
        await platform.post_text(Destination("dingtalk", "@"), "x", reply_to=None)


async def test_timeouts_and_unreachable_dingtalk_are_retryable(
    make: Callable[..., DingTalkAdapter], dingtalk: FakeDingTalkApi
) -> None:
    platform = app(make(timeout="1s"))
    await platform.post_text(OPS, "warm the token", reply_to=None)
    release = dingtalk.hold(CREATE)
    with pytest.raises(RetryableDelivery) as slow:
        await platform.post_card(OPS, card(), lang="en")
    release.set()
    assert isinstance(slow.value.__cause__, httpx.TimeoutException), "raised from the cause"
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = app(make(api_url=f"http://127.0.0.1:{port}"))
    with pytest.raises(RetryableDelivery):
        await gone.post_card(OPS, card(), lang="en")


async def test_without_a_template_cards_are_markdown_with_links(
    make: Callable[..., DingTalkAdapter], dingtalk: FakeDingTalkApi
) -> None:
    platform = app(make(card_template_id=None))
    caps = platform.capabilities
    assert (caps.buttons, caps.update_in_place) == (False, False), "the degradation is declared"
    linked = Card(
        "incident:7",
        "Down",
        Tier.P3,
        "triggered",
        buttons=(Button("Acknowledge", ActionKind.ACK, url="https://tocsin.test/a/x"),),
    )
    ref = await platform.post_card(OPS, linked, lang="en")
    (sent,) = dingtalk.sent
    assert sent["msgKey"] == "sampleMarkdown" and sent["title"] == "[P3] Down"
    assert "[Acknowledge](https://tocsin.test/a/x)" in sent["text"]
    assert '<font color="#9E9E9E">[P3]</font>' in sent["text"]
    await platform.update_card(OPS, ref, linked, lang="en")
    assert len(dingtalk.sent) == 2 and dingtalk.calls_to(CREATE) == []


async def test_custom_robots_sign_every_message(
    make: Callable[..., DingTalkAdapter], dingtalk: FakeDingTalkApi
) -> None:
    platform = robot(make())
    await platform.post_card(ROBOT, card(), lang="en")
    await platform.post_text(ROBOT, "hello", reply_to=None)
    kinds = [c.body["msgtype"] for c in dingtalk.robot_posts]
    assert kinds == ["markdown", "text"], "no link buttons given: plain markdown"
    unsigned = robot(make(robots={"ops": {"webhook": dingtalk.robot_webhook()}}))
    with pytest.raises(PermanentDelivery, match="310000"):
        await unsigned.post_text(ROBOT, "hello", reply_to=None)


async def test_custom_robot_failures(
    make: Callable[..., DingTalkAdapter], dingtalk: FakeDingTalkApi
) -> None:
    platform = robot(make())
    dingtalk.fail("/robot/send", body={"errcode": 130101, "errmsg": "send too fast"})
    with pytest.raises(RetryableDelivery) as caught:
        await platform.post_text(ROBOT, "x", reply_to=None)
    assert caught.value.retry_after == 600
    dingtalk.fail("/robot/send", status=502)
    with pytest.raises(RetryableDelivery):
        await platform.post_text(ROBOT, "x", reply_to=None)
    with pytest.raises(PermanentDelivery, match="no custom robot 'nope'"):
        await platform.post_text(Destination("dingtalk-robot", "nope"), "x", reply_to=None)
    wrong = robot(
        make(robots={"ops": {"webhook": dingtalk.robot_webhook("revoked"), "secret": ROBOT_SECRET}})
    )
    with pytest.raises(PermanentDelivery, match="300001") as refused:
        await wrong.post_text(ROBOT, "x", reply_to=None)
    assert "revoked" not in str(refused.value), "the webhook's token is never echoed"


async def test_keyword_secured_robots_get_their_keyword(
    make: Callable[..., DingTalkAdapter], dingtalk: FakeDingTalkApi
) -> None:
    robots = {
        "ops": {"webhook": dingtalk.robot_webhook(), "secret": ROBOT_SECRET, "keyword": "告警"}
    }
    platform = robot(make(robots=robots))
    await platform.post_text(ROBOT, "Alice acknowledged #7", reply_to=None)
    await platform.post_text(ROBOT, "告警 already here", reply_to=None)
    assert [c.body["text"]["content"] for c in dingtalk.robot_posts] == [
        "Alice acknowledged #7\n\n告警",
        "告警 already here",
    ]


def test_capabilities_come_from_the_settings(make: Callable[..., DingTalkAdapter]) -> None:
    adapter = make(rate_per_second=2.0, burst=4, robot_rate_per_minute=12, robot_burst=3)
    caps = app(adapter).capabilities
    assert (caps.buttons, caps.update_in_place, caps.direct_messages) == (True, True, True)
    assert (caps.rate_per_second, caps.burst) == (2.0, 4)
    robot_caps = robot(adapter).capabilities
    assert (robot_caps.buttons, robot_caps.update_in_place) == (False, False)
    assert (robot_caps.rate_per_second, robot_caps.burst) == (12 / 60, 3)
    assert [p.name for p in adapter.platforms] == ["dingtalk", "dingtalk-robot"]
    assert adapter.connected is False, "a Stream connection is expected but not up"
    only_robots = make(client_id=None, client_secret=None)
    assert [p.name for p in only_robots.platforms] == ["dingtalk-robot"]
    assert only_robots.connected is None
