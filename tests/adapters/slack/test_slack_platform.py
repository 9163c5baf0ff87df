"""`SlackPlatform` with the real slack_sdk client against the fake Web API on 127.0.0.1:
the chat-platform contract, direct messages, and Slack failures as delivery errors."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import pytest
from fake_slack import FakeSlackApi
from slack_support import ALICE, CHANNEL, config

from adapters.chat.slack import SlackAdapter, create
from bot.clock import FakeClock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.model import ActionKind, Button, Card, Destination, Field, Tier
from bot.ports import PostedRef

ALERTS = Destination("slack", CHANNEL)


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


def adapter(api: FakeSlackApi, clock: FakeClock | None = None, **kwargs: Any) -> SlackAdapter:
    raw = config(api)["slack"]
    raw.update(kwargs.pop("slack", {}))
    return create(raw, clock=clock or FakeClock(), **kwargs)


async def test_a_card_is_posted_and_updated_in_place(slack_api: FakeSlackApi) -> None:
    platform = adapter(slack_api).platform
    ref = await platform.post_card(ALERTS, card(), lang="en")
    assert set(ref.data) == {"channel", "ts"} and ref.data["channel"] == CHANNEL
    (posted,) = slack_api.in_channel(CHANNEL)
    assert posted.ts == ref.data["ts"] and posted.blocks[0]["type"] == "header"
    assert slack_api.calls_to("chat.postMessage")[0].token == slack_api.bot_token

    again = await platform.update_card(ALERTS, ref, card("acknowledged"), lang="en")
    assert again == ref
    (shown,) = slack_api.in_channel(CHANNEL)
    assert shown.updates == 1
    assert shown.blocks[1]["elements"][0]["text"].startswith(":large_blue_circle: *Acknowledged*")
    assert not [b for b in shown.blocks if b["type"] == "actions"]


async def test_texts_thread_under_their_card_and_are_escaped(slack_api: FakeSlackApi) -> None:
    platform = adapter(slack_api).platform
    ref = await platform.post_card(ALERTS, card(), lang="en")
    await platform.post_text(ALERTS, "Alice acknowledged #7 <!channel>", reply_to=ref)
    await platform.post_text(ALERTS, "plain", reply_to=None)
    texts = {m.text: m.thread_ts for m in slack_api.in_channel(CHANNEL) if not m.blocks}
    assert texts == {"Alice acknowledged #7 &lt;!channel&gt;": ref.data["ts"], "plain": None}


async def test_direct_messages_open_a_conversation_once(slack_api: FakeSlackApi) -> None:
    platform = adapter(slack_api, identities={"alice": ALICE}).platform
    await platform.post_text(Destination("slack", f"@{ALICE}"), "page 1", reply_to=None)
    ref = await platform.post_card(Destination("slack", "@alice"), card(), lang="en")
    assert ref.data["channel"] == "D0ALICE"
    assert next(m.text for m in slack_api.in_channel("D0ALICE")) == "page 1"
    assert len(slack_api.calls_to("conversations.open")) == 1
    with pytest.raises(PermanentDelivery, match="identities"):
        await platform.post_text(Destination("slack", "@nobody"), "x", reply_to=None)
    without = adapter(slack_api).platform
    with pytest.raises(PermanentDelivery):
        await without.post_text(Destination("slack", "@alice"), "x", reply_to=None)


async def test_rate_limits_are_retryable_with_retry_after(slack_api: FakeSlackApi) -> None:
    platform = adapter(slack_api).platform
    slack_api.fail("chat.postMessage", status=429, error="ratelimited", retry_after=7)
    with pytest.raises(RetryableDelivery) as caught:
        await platform.post_card(ALERTS, card(), lang="en")
    assert caught.value.retry_after == 7
    assert isinstance(caught.value.__cause__, Exception)
    assert len(slack_api.calls_to("chat.postMessage")) == 1, "the adapter never retries itself"


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (500, "", RetryableDelivery),
        (503, "service_unavailable", RetryableDelivery),
        (200, "internal_error", RetryableDelivery),
        (200, "channel_not_found", PermanentDelivery),
        (200, "not_in_channel", PermanentDelivery),
        (200, "invalid_blocks", PermanentDelivery),
    ],
)
async def test_slack_errors_map_to_delivery_errors(
    slack_api: FakeSlackApi, status: int, error: str, kind: type[Exception]
) -> None:
    slack_api.fail("chat.postMessage", status=status, error=error)
    with pytest.raises(kind):
        await adapter(slack_api).platform.post_card(ALERTS, card(), lang="en")


async def test_permanent_failures(slack_api: FakeSlackApi) -> None:
    platform = adapter(slack_api).platform
    with pytest.raises(PermanentDelivery, match="channel_not_found"):
        await platform.post_card(Destination("slack", "C0NOWHERE"), card(), lang="en")
    with pytest.raises(PermanentDelivery, match="message_not_found"):
        await platform.update_card(
            ALERTS, PostedRef({"channel": CHANNEL, "ts": "1.2"}), card(), lang="en"
        )
    with pytest.raises(PermanentDelivery, match="channel and ts"):
        await platform.update_card(ALERTS, PostedRef({"message_id": 3}), card(), lang="en")
    with pytest.raises(PermanentDelivery):
        await platform.post_card(Destination("console", "ops"), card(), lang="en")
    revoked = adapter(slack_api, slack={"bot_token": "xoxb-revoked"}).platform
    with pytest.raises(PermanentDelivery, match="invalid_auth"):
        await revoked.post_card(ALERTS, card(), lang="en")


async def test_timeouts_and_unreachable_slack_are_retryable(slack_api: FakeSlackApi) -> None:
    release = slack_api.hold("chat.postMessage")
    slow = adapter(slack_api, slack={"timeout": "1s"}).platform
    with pytest.raises(RetryableDelivery):
        await slow.post_card(ALERTS, card(), lang="en")
    release.set()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = adapter(slack_api, slack={"api_url": f"http://127.0.0.1:{port}/api/"}).platform
    with pytest.raises(RetryableDelivery):
        await gone.post_card(ALERTS, card(), lang="en")


async def test_display_names_are_cached_for_a_while(slack_api: FakeSlackApi) -> None:
    clock = FakeClock()
    names = adapter(slack_api, clock, slack={"user_cache_ttl": "10m"}).names
    assert await names.get(ALICE) == "Alice Chen"
    assert await names.get(ALICE) == "Alice Chen"
    assert len(slack_api.calls_to("users.info")) == 1
    clock.advance(timedelta(minutes=11))
    await names.get(ALICE)
    assert len(slack_api.calls_to("users.info")) == 2
    assert await names.get("U0GHOST", "ghost") == "ghost"  # a failed look-up never blocks


def test_capabilities_come_from_the_settings(slack_api: FakeSlackApi) -> None:
    platform = adapter(slack_api, slack={"rate_per_second": 1.0, "burst": 3}).platform
    caps = platform.capabilities
    assert (caps.buttons, caps.update_in_place, caps.direct_messages) == (True, True, True)
    assert (caps.rate_per_second, caps.burst) == (1.0, 3)
    assert platform.name == "slack"
