"""DingTalk's timestamp/sign scheme. DingTalk publishes no test vector for it, so it is checked by
recomputing it the way DingTalk's own Python sample does, plus tampering and the time window."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from datetime import UTC, datetime, timedelta

from adapters.chat.dingtalk.signing import CallbackVerifier, sign, signed_webhook
from bot.clock import FakeClock
from bot.replay import MemoryReplays

SECRET = "SEC1a2b3c4d5e6f"
STAMP = 1577262236757  # the timestamp in the documented HTTP callback headers
HOUR = timedelta(hours=1)


def official_sample(timestamp: str, secret: str) -> str:
    """DingTalk's published Python sample for 加签, verbatim in substance."""
    secret_enc = secret.encode("utf-8")
    string_to_sign = f"{timestamp}\n{secret}"
    string_to_sign_enc = string_to_sign.encode("utf-8")
    hmac_code = hmac.new(secret_enc, string_to_sign_enc, digestmod=hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(hmac_code))


def test_sign_matches_the_official_sample() -> None:
    for secret in (SECRET, "app-secret-with-ü", "x"):
        for stamp in (STAMP, 0, 1767225660123):
            assert urllib.parse.quote_plus(sign(secret, stamp)) == official_sample(
                str(stamp), secret
            )
    url = signed_webhook("https://oapi.dingtalk.com/robot/send?access_token=T", SECRET, STAMP)
    assert url == (
        "https://oapi.dingtalk.com/robot/send?access_token=T"
        f"&timestamp={STAMP}&sign={official_sample(str(STAMP), SECRET)}"
    )


def verifier_at(offset_ms: int) -> CallbackVerifier:
    now = datetime.fromtimestamp(STAMP / 1000, UTC) + timedelta(milliseconds=offset_ms)
    return CallbackVerifier(SECRET, FakeClock(now), HOUR, MemoryReplays())


async def test_the_callback_window_is_one_hour_either_way() -> None:
    headers = {"timestamp": str(STAMP), "sign": sign(SECRET, STAMP)}
    for offset, accepted in (
        (0, True),
        (3_600_000, True),
        (-3_600_000, True),
        (3_600_001, False),
        (-3_600_001, False),
    ):
        assert (await verifier_at(offset).verify(headers) is not None) is accepted, offset


async def test_tampered_and_replayed_callbacks_are_refused() -> None:
    verifier = verifier_at(0)
    good = {"timestamp": str(STAMP), "sign": sign(SECRET, STAMP)}
    assert await verifier.verify(good | {"sign": sign("other", STAMP)}) is None
    assert await verifier.verify(good | {"timestamp": str(STAMP + 1)}) is None, "sign bound to time"
    assert await verifier.verify(good | {"timestamp": "soon"}) is None
    assert await verifier.verify({"timestamp": str(STAMP)}) is None
    assert await verifier.verify({}) is None
    claim = await verifier.verify(good)
    assert claim is not None
    assert await verifier.verify(good) is None, "a replay"
    await verifier.release(claim)
    assert await verifier.verify(good) == claim, "released after a failed request"
