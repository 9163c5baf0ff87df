"""HTTP mode through the real core: Tocsin from `bootstrap`, its ASGI app, robot messages signed
with the app secret, the replies on the fake DingTalk. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from dingtalk_support import CAROL, adapter_of, audit, bot_message, incident, signed_headers
from fake_dingtalk import FakeDingTalkApi

from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.i18n import t
from tests.support import firing

PATH = "/dingtalk/callback"
HOUR_MS = 3_600_000
ACKED_1 = t("incident.acked", "en", id=1, user="Alice")


class DingTalk:
    """Sends what DingTalk would send to Tocsin's /dingtalk/callback, signed on Tocsin's clock."""

    def __init__(self, client: httpx.AsyncClient, clock: FakeClock, tocsin: Tocsin) -> None:
        self.client, self.clock, self.tocsin = client, clock, tocsin

    def now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    async def post(
        self,
        body: dict[str, Any] | bytes,
        *,
        signed_at: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        stamp = signed_at if signed_at is not None else self.now_ms()
        sent = signed_headers(stamp, **({"secret": secret} if secret else {}))
        response = await self.client.post(PATH, content=content, headers=headers or sent)
        await adapter_of(self.tocsin).idle()
        return response


@asynccontextmanager
async def dingtalk_for(tocsin: Tocsin, clock: FakeClock) -> AsyncIterator[DingTalk]:
    transport = httpx.ASGITransport(app=tocsin.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        yield DingTalk(client, clock, tocsin)


async def open_card(tocsin: Tocsin) -> None:
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()


async def test_a_signed_at_command_is_answered_through_its_session_webhook(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    await open_card(tocsin)
    async with dingtalk_for(tocsin, clock) as robot:
        response = await robot.post(bot_message(dingtalk, " /ack 1"))
    assert (response.status_code, response.json()) == (200, {})
    assert (await incident(tocsin, 1)).status == "acknowledged"
    (answer,) = dingtalk.sent
    assert answer["to"].startswith("session:") and answer["text"] == {"content": ACKED_1}
    (entry,) = await audit(tocsin)
    assert (entry.actor, entry.target, entry.outcome) == ("alice", "/ack 1", "allowed")


async def test_forged_stale_and_replayed_requests_change_nothing(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    await open_card(tocsin)
    message = bot_message(dingtalk, "ack 1")
    async with dingtalk_for(tocsin, clock) as robot:
        now = robot.now_ms()
        forged = await robot.post(message, secret="not-the-app-secret")
        stale = await robot.post(message, signed_at=now - HOUR_MS - 1)
        early = await robot.post(message, signed_at=now + HOUR_MS + 1)
        unsigned = await robot.client.post(PATH, content=json.dumps(message).encode())
        tampered = signed_headers(now) | {"timestamp": str(now + 1)}
        moved = await robot.post(message, headers=tampered)
        assert {r.status_code for r in (forged, stale, early, unsigned, moved)} == {401}
        assert dingtalk.sent == [] and await audit(tocsin) == []

        headers = signed_headers(now - HOUR_MS + 1000)  # still inside the hour
        first = await robot.post(message, headers=headers)
        replayed = await robot.post(message, headers=headers)  # the exact request again
    assert (first.status_code, replayed.status_code) == (200, 401)
    assert len(dingtalk.sent) == 1 and len(await audit(tocsin)) == 1
    assert (await incident(tocsin, 1)).status == "acknowledged"


async def test_malformed_and_oversized_bodies_are_refused(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    async with dingtalk_for(tocsin, clock) as robot:
        not_json = await robot.post(b"{nope")
        not_object = await robot.post(b"[1, 2]")
        no_sender = await robot.post({"msgtype": "text", "text": {"content": "ack 1"}})
        big = await robot.post(b"x" * 1_048_577)
        # a refused request does not use up its signature
        retried = await robot.post(bot_message(dingtalk, "help"), signed_at=robot.now_ms() - 7)
    assert [r.status_code for r in (not_json, not_object, no_sender)] == [400, 400, 400]
    assert "malformed robot message" in no_sender.text
    assert big.status_code == 413
    assert retried.status_code == 200
    assert [e.target for e in await audit(tocsin)] == ["/help"]


async def test_the_same_message_twice_is_processed_once(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    await open_card(tocsin)
    message = bot_message(dingtalk, "ack 1", user=CAROL, msg_id="msgSAME==")
    async with dingtalk_for(tocsin, clock) as robot:
        await robot.post(message)
        clock.advance(2)
        await robot.post(message)
    assert len(dingtalk.sent) == 1 and len(await audit(tocsin)) == 1


async def test_stream_mode_has_no_http_route(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="stream")
    async with dingtalk_for(tocsin, clock) as robot:
        response = await robot.client.post(PATH, content=b"{}")
    assert response.status_code in (404, 405)


async def test_a_replay_to_another_replica_is_refused(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, clock: FakeClock
) -> None:
    one, two = make_tocsin(mode="http"), make_tocsin(mode="http")  # one database
    await open_card(one)
    async with dingtalk_for(one, clock) as first, dingtalk_for(two, clock) as second:
        headers = signed_headers(first.now_ms())
        message = bot_message(dingtalk, "ack 1")
        accepted = await first.post(message, headers=headers)
        replayed = await second.post(message, headers=headers)
    assert (accepted.status_code, replayed.status_code) == (200, 401)
    assert replayed.text == "invalid or expired DingTalk signature"
    assert len(dingtalk.sent) == 1 and len(await audit(one)) == 1


async def test_a_failed_request_is_released_for_its_retry_on_another_replica(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, clock: FakeClock
) -> None:
    one, two = make_tocsin(mode="http"), make_tocsin(mode="http")
    async with dingtalk_for(one, clock) as first, dingtalk_for(two, clock) as second:
        headers = signed_headers(first.now_ms())
        failed = await first.post(b"[1, 2]", headers=headers)
        failed_again = await second.post(b"[1, 2]", headers=headers)  # released, not a replay
        message = bot_message(dingtalk, "help")
        retried = await second.post(message, headers=headers)
        again = await first.post(message, headers=headers)
    statuses = [r.status_code for r in (failed, failed_again, retried, again)]
    assert statuses == [400, 400, 200, 401]
    assert [e.target for e in await audit(two)] == ["/help"]
