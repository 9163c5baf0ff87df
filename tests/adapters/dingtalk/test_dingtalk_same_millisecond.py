"""DingTalk's callback sign covers only the time and the secret: two genuine messages stamped in
the same millisecond carry the same headers and must both be handled, while the exact request
sent again is still refused. Through Tocsin from `bootstrap` and its real callback route."""

from __future__ import annotations

import json
from collections.abc import Callable

from dingtalk_support import CAROL, audit, bot_message, incident, signed_headers
from fake_dingtalk import FakeDingTalkApi
from test_dingtalk_http import dingtalk_for, open_card
from test_dingtalk_signing import HOUR, SECRET, STAMP, verifier_at

from adapters.chat.dingtalk.signing import CallbackVerifier, sign
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.replay import MemoryReplays


async def test_two_messages_in_one_millisecond_are_both_handled_and_replays_refused(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    await open_card(tocsin)
    ack = bot_message(dingtalk, "ack 1")
    help_ = bot_message(dingtalk, "help", user=CAROL)
    async with dingtalk_for(tocsin, clock) as robot:
        headers = signed_headers(robot.now_ms())
        first = await robot.post(ack, headers=headers)
        second = await robot.post(help_, headers=headers)
        clock.advance(30)
        replays = [await robot.post(body, headers=headers) for body in (ack, help_)]
    assert (first.status_code, second.status_code) == (200, 200)
    assert [r.status_code for r in replays] == [401, 401]
    assert (await incident(tocsin, 1)).status == "acknowledged"
    assert sorted(e.target for e in await audit(tocsin)) == ["/ack 1", "/help"]
    assert len(dingtalk.sent) == 2


async def test_the_replay_key_is_the_sign_and_the_body() -> None:
    verifier = verifier_at(0)
    headers = {"timestamp": str(STAMP), "sign": sign(SECRET, STAMP)}
    one, two = (json.dumps({"msgId": m}).encode() for m in ("a==", "b=="))
    assert await verifier.verify(headers, one) is not None
    assert await verifier.verify(headers, two) is not None
    assert await verifier.verify(headers, one) is None
    assert await verifier.verify(headers | {"sign": sign("other", STAMP)}, b"c") is None
    fresh = CallbackVerifier(SECRET, FakeClock(), HOUR, MemoryReplays())
    assert await fresh.verify(headers, one) is None, "outside the window"
