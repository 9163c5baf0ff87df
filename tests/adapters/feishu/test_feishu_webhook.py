"""Webhook mode's guard: Feishu's decryption vector, the signature, the replay window, the
verification token, URL verification, and bad requests refused with nothing changed — through
Tocsin from `bootstrap` and its ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fake_feishu import FakeOpenApi
from feishu_support import (
    ALICE,
    CHAT,
    ENCRYPT_KEY,
    VERIFICATION_TOKEN,
    adapter_of,
    audit,
    card_press,
    encrypt,
    incident,
    message_event,
    recorded,
    sealed,
    signed_headers,
)

from adapters.chat.feishu.crypto import DecryptError, decrypt, signature, signature_matches
from adapters.chat.feishu.verify import Rejected, RequestVerifier
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.replay import MemoryReplays, ReplayGuard
from bot.store.db import Database
from tests.support import firing

WINDOW = timedelta(minutes=5)


class Poster:
    """Posts bodies to /feishu/events, signed on Tocsin's clock unless told otherwise."""

    def __init__(self, client: httpx.AsyncClient, clock: FakeClock, tocsin: Tocsin) -> None:
        self.client, self.clock, self.tocsin = client, clock, tocsin

    async def post(
        self,
        body: bytes,
        *,
        headers: dict[str, str] | None = None,
        signed_at: float | None = None,
        key: str = ENCRYPT_KEY,
        signed: bool = True,
    ) -> httpx.Response:
        stamp = signed_at if signed_at is not None else self.clock.now().timestamp()
        sent = signed_headers(body, timestamp=stamp, key=key) if signed else {}
        response = await self.client.post(
            "/feishu/events", content=body, headers=sent | (headers or {})
        )
        await adapter_of(self.tocsin).idle()
        return response


@asynccontextmanager
async def feishu_for(tocsin: Tocsin, clock: FakeClock) -> AsyncIterator[Poster]:
    transport = httpx.ASGITransport(app=tocsin.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        yield Poster(client, clock, tocsin)
    await adapter_of(tocsin).aclose()


def test_the_official_decryption_vector() -> None:
    vector = recorded("feishu_card_action_trigger_encrypted_http_body")["encrypt"]
    assert vector == "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="
    assert decrypt(vector, "test key") == "hello world"
    for bad in ("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=", "not base64!", "", "AAAA"):
        with pytest.raises(DecryptError):
            decrypt(bad, "another key" if bad.startswith("P37") else "test key")


def test_our_encryption_and_the_adapters_decryption_agree() -> None:
    envelope = {"schema": "2.0", "header": {"event_id": "e1"}, "text": "你好 ✓"}
    assert json.loads(decrypt(encrypt(json.dumps(envelope), "k"), "k")) == envelope


def test_the_signature_is_sha256_of_timestamp_nonce_key_and_body() -> None:
    body = b'{"encrypt":"abc"}'
    expected = hashlib.sha256(b"1767225660" + b"n0nce" + b"the key" + body).hexdigest()
    assert signature("1767225660", "n0nce", "the key", body) == expected
    check = {"timestamp": "1767225660", "nonce": "n0nce", "encrypt_key": "the key", "body": body}
    assert signature_matches(expected, **check)
    assert signature_matches(expected.upper(), **check)
    assert not signature_matches(expected, **(check | {"body": body + b" "}))
    assert not signature_matches("0" * 64, **check)
    assert not signature_matches("", **check)


async def test_the_verifier_window_replays_and_release() -> None:
    sent = datetime.fromtimestamp(1767225660, UTC)
    envelope = {"schema": "2.0", "header": {"event_id": "e1", "token": VERIFICATION_TOKEN}}
    body = sealed(envelope)
    headers = signed_headers(body, timestamp=sent.timestamp())
    for offset, accepted in ((0, True), (299, True), (-299, True), (301, False), (-301, False)):
        verifier = RequestVerifier(
            ENCRYPT_KEY,
            VERIFICATION_TOKEN,
            FakeClock(sent + timedelta(seconds=offset)),
            WINDOW,
            MemoryReplays(),
        )
        try:
            verified = await verifier.verify(body, headers)
        except Rejected as rejected:
            assert not accepted and rejected.status == 401, offset
        else:
            assert accepted and verified.envelope == envelope, offset
    verifier = RequestVerifier(
        ENCRYPT_KEY, VERIFICATION_TOKEN, FakeClock(sent), WINDOW, MemoryReplays()
    )
    claim = (await verifier.verify(body, headers)).claim
    with pytest.raises(Rejected, match="replayed"):
        await verifier.verify(body, headers)
    await verifier.release(claim)
    assert (await verifier.verify(body, headers)).claim == claim, "released after a failed request"


async def open_card(tocsin: Tocsin, api: FakeOpenApi) -> Any:
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    return api.cards_in(CHAT)[-1]


async def test_url_verification_is_answered_with_the_challenge(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="webhook")
    challenge = {
        "challenge": "ajls384kdjx98XX",
        "token": VERIFICATION_TOKEN,
        "type": "url_verification",
    }
    async with feishu_for(tocsin, clock) as feishu:
        answer = await feishu.post(sealed(challenge), signed=False)
        assert (answer.status_code, answer.json()) == (200, {"challenge": "ajls384kdjx98XX"})
        signed = await feishu.post(sealed(challenge))
        assert signed.json() == {"challenge": "ajls384kdjx98XX"}
        wrong = await feishu.post(sealed(challenge | {"token": "guess"}), signed=False)
        assert wrong.status_code == 401


async def test_bad_requests_are_refused_and_change_nothing(
    make_tocsin: Callable[..., Tocsin], open_api: FakeOpenApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="webhook")
    card = await open_card(tocsin, open_api)
    press = card_press(card, "ack", user=ALICE)
    body = sealed(press)
    now = clock.now().timestamp()
    calls = len(open_api.calls)
    async with feishu_for(tocsin, clock) as feishu:
        refused = {
            "forged signature": await feishu.post(body, key="not the key"),
            "stale": await feishu.post(body, signed_at=now - 301),
            "from the future": await feishu.post(body, signed_at=now + 301),
            "unsigned": await feishu.post(body, signed=False),
            "mangled signature": await feishu.post(body, headers={"x-lark-signature": "0" * 64}),
            "bad timestamp": await feishu.post(body, headers={"x-lark-request-timestamp": "soon"}),
            "wrong token": await feishu.post(
                sealed(press | {"header": press["header"] | {"token": "guess"}})
            ),
            "other key": await feishu.post(sealed(press, key="other key")),
            "plaintext": await feishu.post(json.dumps(press).encode()),
            "malformed": await feishu.post(b"{not json"),
            "not an object": await feishu.post(b"[1, 2, 3]"),
            "garbled inside": await feishu.post(
                json.dumps({"encrypt": encrypt("[{not json")}).encode()
            ),
            "too large": await feishu.post(b"x" * 1_048_577),
        }
        statuses = {name: r.status_code for name, r in refused.items()}
        assert statuses == {
            "forged signature": 401,
            "stale": 401,
            "from the future": 401,
            "unsigned": 401,
            "mangled signature": 401,
            "bad timestamp": 401,
            "wrong token": 401,
            "other key": 401,
            "plaintext": 401,
            "malformed": 400,
            "not an object": 400,
            "garbled inside": 400,
            "too large": 413,
        }
        assert all(r.json()["msg"] for r in refused.values()), "each says why"
        assert len(open_api.calls) == calls, "nothing reached Feishu"
        assert (await incident(tocsin, 1)).status == "triggered"
        assert await audit(tocsin) == []

        headers = signed_headers(body, timestamp=now)
        first = await feishu.client.post("/feishu/events", content=body, headers=headers)
        await adapter_of(tocsin).idle()
        replayed = await feishu.client.post("/feishu/events", content=body, headers=headers)
    assert (first.status_code, replayed.status_code) == (200, 401)
    assert first.json()["toast"]["type"] == "success"
    assert len(await audit(tocsin)) == 1


async def test_events_tocsin_does_not_handle_are_acknowledged(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="webhook")
    read = message_event("x")
    read["header"]["event_type"] = "im.message.message_read_v1"
    async with feishu_for(tocsin, clock) as feishu:
        answer = await feishu.post(sealed(read))
    assert (answer.status_code, answer.json()) == (200, {"msg": "ignored"})
    assert await audit(tocsin) == []


async def test_the_long_connection_mode_has_no_http_route(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="long_connection")
    async with feishu_for(tocsin, clock) as feishu:
        response = await feishu.client.post("/feishu/events", content=b"{}")
    assert response.status_code in (404, 405)


async def test_a_replay_to_another_replica_is_refused(
    make_tocsin: Callable[..., Tocsin], open_api: FakeOpenApi, clock: FakeClock
) -> None:
    one, two = make_tocsin(mode="webhook"), make_tocsin(mode="webhook")  # one database
    card = await open_card(one, open_api)
    body = sealed(card_press(card, "ack", user=ALICE))
    headers = signed_headers(body, timestamp=clock.now().timestamp())
    async with feishu_for(one, clock) as first, feishu_for(two, clock) as second:
        accepted = await first.client.post("/feishu/events", content=body, headers=headers)
        await adapter_of(one).idle()
        replayed = await second.client.post("/feishu/events", content=body, headers=headers)
    assert (accepted.status_code, replayed.status_code) == (200, 401)
    assert replayed.json() == {"msg": "a request already received (replayed)"}
    assert len(await audit(one)) == 1


async def test_a_released_claim_lets_the_retry_through_on_another_replica(db: Database) -> None:
    sent = datetime.fromtimestamp(1767225660, UTC)
    body = sealed({"schema": "2.0", "header": {"event_id": "e1", "token": VERIFICATION_TOKEN}})
    headers = signed_headers(body, timestamp=sent.timestamp())
    one, two = (
        RequestVerifier(
            ENCRYPT_KEY,
            VERIFICATION_TOKEN,
            FakeClock(sent),
            WINDOW,
            ReplayGuard(db, FakeClock(sent), "feishu:replay"),
        )
        for _ in range(2)
    )
    claim = (await one.verify(body, headers)).claim
    with pytest.raises(Rejected, match="replayed"):
        await two.verify(body, headers)
    await one.release(claim)  # handling it failed
    assert (await two.verify(body, headers)).claim == claim
