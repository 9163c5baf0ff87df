"""HTTP mode through the real core: Tocsin from `bootstrap`, its ASGI app, signed Slack requests,
the real Bolt and slack_sdk against the fake Web API. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fake_slack import BOT_USER, FakeSlackApi, Posted
from slack_support import (
    ALICE,
    CAROL,
    CHANNEL,
    SIGNING_SECRET,
    adapter_of,
    answers,
    audit,
    block_actions,
    card_refs,
    event_callback,
    form,
    incident,
    interactive,
    mention,
    signed_headers,
    slash_command,
)

from adapters.chat.slack.verify import RequestVerifier
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.i18n import t
from bot.replay import MemoryReplays
from tests.support import firing

JSON = "application/json"
ACKED_1 = t("incident.acked", "en", id=1, user="Alice")
ACKED_2 = t("incident.acked", "en", id=2, user="Alice")


class Slack:
    """Sends what Slack would send to Tocsin's /slack/events, signed on Tocsin's clock."""

    def __init__(self, client: httpx.AsyncClient, clock: FakeClock, tocsin: Tocsin) -> None:
        self.client, self.clock, self.tocsin = client, clock, tocsin

    async def post(
        self,
        body: bytes,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        headers: dict[str, str] | None = None,
        signed_at: float | None = None,
        secret: str = SIGNING_SECRET,
    ) -> httpx.Response:
        stamp = signed_at if signed_at is not None else self.clock.now().timestamp()
        sent = signed_headers(body, timestamp=stamp, secret=secret, content_type=content_type)
        response = await self.client.post(
            "/slack/events", content=body, headers=sent | (headers or {})
        )
        await adapter_of(self.tocsin).idle()
        return response

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body = json.dumps(event_callback(event, event_id=event_id)).encode()
        return await self.post(body, content_type=JSON, headers=headers)


@asynccontextmanager
async def slack_for(tocsin: Tocsin, clock: FakeClock) -> AsyncIterator[Slack]:
    transport = httpx.ASGITransport(app=tocsin.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        yield Slack(client, clock, tocsin)


async def open_card(tocsin: Tocsin, api: FakeSlackApi, name: str = "HighErrorRate") -> Posted:
    await tocsin.ingest.ingest([firing(name)])
    await tocsin.engine.tick()
    return [m for m in api.in_channel(CHANNEL) if m.blocks][-1]


def action(posted: Posted, kind: str) -> str:
    return next(
        e["action_id"]
        for b in posted.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith(f"tocsin:{kind}:")
    )


def replies(api: FakeSlackApi, thread_ts: str) -> list[str]:
    return [m.text for m in api.in_channel(CHANNEL) if m.thread_ts == thread_ts]


async def test_an_alert_posts_a_card_whose_place_is_stored(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi
) -> None:
    tocsin = make_tocsin(mode="http")
    posted = await open_card(tocsin, slack_api)
    assert posted.blocks[0]["text"]["text"].startswith(":red_circle: [P0] HighErrorRate")
    assert posted.text.startswith("[P0] HighErrorRate")
    assert await card_refs(tocsin) == [{"channel": CHANNEL, "ts": posted.ts}]


async def test_acknowledge_press_by_an_allowed_user(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    posted = await open_card(tocsin, slack_api)
    press = block_actions(posted.blocks, action(posted, "ack"), ts=posted.ts, user=ALICE)
    async with slack_for(tocsin, clock) as slack:
        response = await slack.post(interactive(press))
    assert response.status_code == 200
    row = await incident(tocsin, 1)
    assert (row.status, row.acked_by) == ("acknowledged", "Alice")
    assert replies(slack_api, posted.ts) == [ACKED_1]
    assert slack_api.calls_to("users.info")[0].params["user"] == ALICE

    await tocsin.engine.tick()
    (card,) = [m for m in slack_api.in_channel(CHANNEL) if m.blocks]
    assert (card.ts, card.updates) == (posted.ts, 1), "updated in place, same ts"
    assert slack_api.calls_to("chat.update")[0].params["ts"] == posted.ts
    assert card.blocks[1]["elements"][0]["text"].startswith(":large_blue_circle: *Acknowledged*")
    assert "tocsin:unack:0" in json.dumps(card.blocks)
    (entry,) = await audit(tocsin)
    assert (entry.actor, entry.platform, entry.action, entry.outcome) == (
        "alice",
        "slack",
        "button:ack",
        "allowed",
    )


async def test_a_press_without_the_grant_is_denied_privately(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    posted = await open_card(tocsin, slack_api)
    press = block_actions(posted.blocks, action(posted, "ack"), ts=posted.ts, user=CAROL)
    async with slack_for(tocsin, clock) as slack:
        assert (await slack.post(interactive(press))).status_code == 200
    (denial,) = slack_api.ephemerals
    assert (denial["channel"], denial["user"]) == (CHANNEL, CAROL)
    scope = t("auth.scope", "en", service="orders", environment="prod")
    action_name = t("action.ack", "en")
    expected = t("auth.denied", "en", action=action_name, scope=scope, roles="viewer")
    assert denial["text"] == expected
    assert "thread_ts" not in denial
    assert (await incident(tocsin, 1)).status == "triggered"
    await tocsin.engine.tick()
    assert slack_api.calls_to("chat.update") == []
    assert replies(slack_api, posted.ts) == []
    (entry,) = await audit(tocsin)
    assert (entry.actor, entry.target, entry.outcome) == ("carol", "incident:1 ack", "denied")


async def test_slash_command_and_mention_reach_the_same_command(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    async with slack_for(tocsin, clock) as slack:
        slash = slash_command(slack_api, "/deploy", "orders v1.4.2 prod")
        assert (await slack.post(form(slash))).status_code == 200
        said = f"<@{BOT_USER}> deploy orders v1.4.2 prod"
        assert (await slack.event(mention(said))).status_code == 200
    by_slash_command, by_mention = answers(slack_api)
    assert by_slash_command == by_mention, "the same answer, equally private"
    by_slash, by_mention = await audit(tocsin)
    assert by_slash.target == by_mention.target == "/deploy orders v1.4.2 prod"
    assert (by_slash.action, by_slash.outcome) == (by_mention.action, by_mention.outcome)


async def test_ack_by_slash_command_and_by_mention(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    await open_card(tocsin, slack_api, "First")
    await open_card(tocsin, slack_api, "Second")
    async with slack_for(tocsin, clock) as slack:
        await slack.post(form(slash_command(slack_api, "/ack", "1")))
        await slack.event(mention(f"<@{BOT_USER}> ack 2"))
    assert [(await incident(tocsin, n)).status for n in (1, 2)] == ["acknowledged"] * 2
    (hook,) = slack_api.hooks
    assert (hook["response_type"], hook["text"]) == ("in_channel", ACKED_1)
    assert ACKED_2 in [m.text for m in slack_api.in_channel(CHANNEL)]
    assert [(e.action, e.target) for e in await audit(tocsin)] == [
        ("command:ack", "/ack 1"),
        ("command:ack", "/ack 2"),
    ]


async def test_a_retried_event_is_processed_once(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    await open_card(tocsin, slack_api)
    event = mention(f"<@{BOT_USER}> ack 1")
    async with slack_for(tocsin, clock) as slack:
        first = await slack.event(event, event_id="EvSAME")
        clock.advance(timedelta(seconds=65))
        retry = {"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
        again = await slack.event(event, event_id="EvSAME", headers=retry)
    assert (first.status_code, again.status_code) == (200, 200)
    texts = [m.text for m in slack_api.in_channel(CHANNEL) if not m.blocks]
    assert texts == [ACKED_1]
    assert len(await audit(tocsin)) == 1


async def test_forged_stale_and_replayed_requests_change_nothing(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    posted = await open_card(tocsin, slack_api)
    before = len(slack_api.calls)
    press = interactive(block_actions(posted.blocks, action(posted, "ack"), ts=posted.ts))
    now = clock.now().timestamp()
    async with slack_for(tocsin, clock) as slack:
        forged = await slack.post(press, secret="0" * 32)
        stale = await slack.post(press, signed_at=now - 301)
        early = await slack.post(press, signed_at=now + 301)
        unsigned = await slack.client.post("/slack/events", content=press)
        assert {r.status_code for r in (forged, stale, early, unsigned)} == {401}
        assert len(slack_api.calls) == before
        assert (await incident(tocsin, 1)).status == "triggered"
        assert await audit(tocsin) == []

        headers = signed_headers(press, timestamp=now)
        first = await slack.client.post("/slack/events", content=press, headers=headers)
        await adapter_of(tocsin).idle()
        calls = len(slack_api.calls)
        replayed = await slack.client.post("/slack/events", content=press, headers=headers)
        await adapter_of(tocsin).idle()
    assert (first.status_code, replayed.status_code) == (200, 401)
    assert len(slack_api.calls) == calls
    assert len(await audit(tocsin)) == 1


async def test_url_verification_and_oversized_bodies(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    challenge = {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    async with slack_for(tocsin, clock) as slack:
        answer = await slack.post(
            json.dumps(challenge | {"type": "url_verification"}).encode(), content_type=JSON
        )
        assert answer.status_code == 200
        assert answer.json() == {"challenge": challenge["challenge"]}
        big = await slack.post(b"x" * 1_048_577)
        assert big.status_code == 413


async def test_socket_mode_has_no_http_route(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="socket")
    async with slack_for(tocsin, clock) as slack:
        response = await slack.client.post("/slack/events", content=b"{}")
    assert response.status_code in (404, 405)


async def test_the_official_signing_test_vector() -> None:
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
        b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"
        b"collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F3977008"
        b"85554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c4"
        b"47fce8b6703c"
    )
    signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    headers = {"x-slack-request-timestamp": "1531420618", "x-slack-signature": signature}
    sent = datetime.fromtimestamp(1531420618, UTC)
    for offset, accepted in ((0, True), (299, True), (-299, True), (301, False), (-301, False)):
        clock = FakeClock(sent + timedelta(seconds=offset))
        verifier = RequestVerifier(SIGNING_SECRET, clock, MemoryReplays())
        assert (await verifier.verify(body, headers) == signature) is accepted, offset
    verifier = RequestVerifier(SIGNING_SECRET, FakeClock(sent), MemoryReplays())
    assert await verifier.verify(body + b"x", headers) is None
    assert await verifier.verify(body, headers | {"x-slack-signature": "v0=" + "0" * 64}) is None
    assert await verifier.verify(body, headers | {"x-slack-request-timestamp": "soon"}) is None
    assert await verifier.verify(body, headers) == signature
    assert await verifier.verify(body, headers) is None, "a replay"
    await verifier.release(signature)
    assert await verifier.verify(body, headers) == signature, "released after a failed request"
