"""Signed requests lark-oapi would refuse (with a 500 and a stack trace) are refused by Tocsin's
edge first, with 401 and nothing changed; what lark-oapi accepts still gets through. Through
Tocsin from `bootstrap` and its real webhook route."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fake_feishu import FakeOpenApi
from feishu_support import (
    ALICE,
    ENCRYPT_KEY,
    adapter_of,
    audit,
    card_press,
    incident,
    sealed,
    signed_headers,
)
from test_feishu_webhook import feishu_for, open_card

from adapters.chat.feishu.crypto import signature
from bot.bootstrap import Tocsin
from bot.clock import FakeClock

SIGNATURE = "x-lark-signature"
NONCE = "x-lark-request-nonce"
TIMESTAMP = "x-lark-request-timestamp"


def nonceless(body: bytes, now: float) -> dict[str, str]:
    """Signed correctly over an empty nonce, and without the nonce header."""
    headers = signed_headers(body, timestamp=now)
    del headers[NONCE]
    headers[SIGNATURE] = signature(headers[TIMESTAMP], "", ENCRYPT_KEY, body)
    return headers


async def test_requests_lark_oapi_would_refuse_get_401_first(
    make_tocsin: Callable[..., Tocsin],
    open_api: FakeOpenApi,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tocsin = make_tocsin(mode="webhook")
    card = await open_card(tocsin, open_api)
    body = sealed(card_press(card, "ack", user=ALICE))
    now = clock.now().timestamp()
    good = signed_headers(body, timestamp=now)
    no_timestamp = dict(good)
    del no_timestamp[TIMESTAMP]
    cases = {
        "upper-case signature": good | {SIGNATURE: good[SIGNATURE].upper()},
        "no nonce header": nonceless(body, now),
        "signature without a timestamp": no_timestamp,
        "empty signature": good | {SIGNATURE: ""},
    }
    async with feishu_for(tocsin, clock) as feishu:
        with caplog.at_level(logging.ERROR):
            for name, headers in cases.items():
                answer = await feishu.client.post("/feishu/events", content=body, headers=headers)
                assert answer.status_code == 401, name
                assert answer.json()["msg"], name
        assert not [r for r in caplog.records if r.exc_info], "no stack trace from lark-oapi"
        assert (await incident(tocsin, 1)).status == "triggered"
        assert await audit(tocsin) == []

        # What lark-oapi accepts is still accepted: here an empty (but present) nonce header.
        empty_nonce = nonceless(body, now) | {NONCE: ""}
        accepted = await feishu.client.post("/feishu/events", content=body, headers=empty_nonce)
        await adapter_of(tocsin).idle()
    assert accepted.status_code == 200
    assert accepted.json()["toast"]["type"] == "success"
    assert (await incident(tocsin, 1)).status == "acknowledged"
