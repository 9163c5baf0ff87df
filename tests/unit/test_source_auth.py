"""Webhook authentication: bearer tokens, HMAC signatures with a replay window, and both."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from adapters.sources.auth import sign, verify
from bot.errors import AuthenticationError
from bot.settings.sourceauth import SourceAuth

NOW = 1_767_582_000.0
BODY = b'{"name": "DiskFull", "severity": "critical"}'
TOKEN = "s3cret-token-0123456789"
SECRET = "hmac-secret-abcdef"
BEARER = SourceAuth(bearer_token=TOKEN)
HMAC = SourceAuth(hmac_secret=SECRET)
BOTH = SourceAuth(bearer_token=TOKEN, hmac_secret=SECRET)


def signed(timestamp: float = NOW, secret: str = SECRET, body: bytes = BODY) -> dict[str, str]:
    return {"X-Tocsin-Signature": sign(secret, body, int(timestamp))}


# Bearer


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {TOKEN}"},
        {"authorization": f"bearer {TOKEN}"},
        {"AUTHORIZATION": f"  Bearer   {TOKEN} "},
    ],
)
def test_bearer_accepted(headers: dict[str, str]) -> None:
    verify(BEARER, headers, BODY, now=NOW)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing Authorization header"),
        ({"X-Other": TOKEN}, "missing Authorization header"),
        ({"Authorization": TOKEN}, "Authorization header must be: Bearer <token>"),
        ({"Authorization": f"Basic {TOKEN}"}, "Authorization header must be: Bearer <token>"),
        ({"Authorization": "Bearer "}, "Authorization header must be: Bearer <token>"),
        ({"Authorization": "Bearer wrong"}, "invalid bearer token"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "invalid bearer token"),
        ({"Authorization": "Bearer tökén"}, "invalid bearer token"),
    ],
)
def test_bearer_rejected(headers: dict[str, str], message: str) -> None:
    with pytest.raises(AuthenticationError, match=message):
        verify(BEARER, headers, BODY, now=NOW)


# HMAC


def test_sign_matches_the_documented_scheme() -> None:
    expected = hmac.new(SECRET.encode(), b"1767582000." + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, BODY, 1_767_582_000) == f"t=1767582000,v1={expected}"


def test_hmac_accepted() -> None:
    verify(HMAC, signed(), BODY, now=NOW)


def test_hmac_header_lookup_ignores_case_and_honours_the_configured_name() -> None:
    custom = SourceAuth(hmac_secret=SECRET, hmac_header="X-Hub-Signature-256")

    verify(HMAC, {"x-tocsin-signature": sign(SECRET, BODY, int(NOW))}, BODY, now=NOW)
    verify(custom, {"x-hub-signature-256": sign(SECRET, BODY, int(NOW))}, BODY, now=NOW)
    with pytest.raises(AuthenticationError, match="missing X-Hub-Signature-256 header"):
        verify(custom, signed(), BODY, now=NOW)


def test_hmac_accepts_uppercase_hex_and_any_matching_v1() -> None:
    good = sign(SECRET, BODY, int(NOW))
    rotated = good.replace("v1=", f"v1={'0' * 64},v1=")

    stamp, _, digest = good.partition(",v1=")
    verify(HMAC, {"X-Tocsin-Signature": f"{stamp},v1={digest.upper()}"}, BODY, now=NOW)
    verify(HMAC, {"X-Tocsin-Signature": rotated}, BODY, now=NOW)
    verify(HMAC, {"X-Tocsin-Signature": good + ",v2=future"}, BODY, now=NOW)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_hmac_accepted_within_the_replay_window(skew: float) -> None:
    verify(HMAC, signed(NOW + skew), BODY, now=NOW)


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_hmac_stale_or_future_timestamp_rejected(skew: float) -> None:
    with pytest.raises(AuthenticationError, match="more than 300 s from the server's clock"):
        verify(HMAC, signed(NOW + skew), BODY, now=NOW)


def test_hmac_replay_window_is_configurable() -> None:
    verify(HMAC, signed(NOW - 3000), BODY, now=NOW, max_skew=3600)
    with pytest.raises(AuthenticationError, match="more than 10 s"):
        verify(HMAC, signed(NOW - 11), BODY, now=NOW, max_skew=10)


def test_hmac_forged_with_another_secret_rejected() -> None:
    with pytest.raises(AuthenticationError, match="signature does not match the body"):
        verify(HMAC, signed(secret="guessed"), BODY, now=NOW)


def test_hmac_tampered_body_rejected() -> None:
    with pytest.raises(AuthenticationError, match="signature does not match the body"):
        verify(HMAC, signed(), BODY.replace(b"critical", b"info"), now=NOW)


def test_hmac_moved_timestamp_rejected() -> None:
    """The timestamp is inside the MAC, so a replay cannot refresh it."""
    original = sign(SECRET, BODY, int(NOW) - 3600)
    refreshed = original.replace(f"t={int(NOW) - 3600}", f"t={int(NOW)}")

    with pytest.raises(AuthenticationError, match="signature does not match the body"):
        verify(HMAC, {"X-Tocsin-Signature": refreshed}, BODY, now=NOW)


def test_hmac_missing_header_rejected() -> None:
    with pytest.raises(AuthenticationError, match="missing X-Tocsin-Signature header"):
        verify(HMAC, {"Authorization": f"Bearer {TOKEN}"}, BODY, now=NOW)


V1 = sign(SECRET, BODY, int(NOW)).partition(",")[2]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "malformed"),
        ("garbage", "malformed"),
        (f"t {int(NOW)},{V1}", "malformed"),
        (f"{int(NOW)}:{V1}", "malformed"),
        (V1, "needs exactly one t=<unix seconds>"),
        (f"t=soon,{V1}", "needs exactly one t=<unix seconds>"),
        (f"t=-5,{V1}", "needs exactly one t=<unix seconds>"),
        (f"t=1.5,{V1}", "needs exactly one t=<unix seconds>"),
        (f"t={'9' * 40},{V1}", "needs exactly one t=<unix seconds>"),
        (f"t={int(NOW)},t={int(NOW)},{V1}", "needs exactly one t=<unix seconds>"),
        (f"t={int(NOW)}", "needs a v1=<hex HMAC-SHA256> signature"),
        (f"t={int(NOW)},v0=abc", "needs a v1=<hex HMAC-SHA256> signature"),
        (f"t={int(NOW)},v1=", "signature does not match the body"),
        (f"t={int(NOW)},v1=zz-not-hex-é", "signature does not match the body"),
    ],
)
def test_hmac_malformed_header_rejected(value: str, message: str) -> None:
    with pytest.raises(AuthenticationError, match=f"X-Tocsin-Signature: .*{message}"):
        verify(HMAC, {"X-Tocsin-Signature": value}, BODY, now=NOW)


# Both configured


def test_both_configured_accepts_both() -> None:
    verify(BOTH, {"Authorization": f"Bearer {TOKEN}", **signed()}, BODY, now=NOW)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (signed(), "missing Authorization header"),
        ({"Authorization": f"Bearer {TOKEN}"}, "missing X-Tocsin-Signature header"),
        ({"Authorization": "Bearer wrong", **signed()}, "invalid bearer token"),
        (
            {"Authorization": f"Bearer {TOKEN}", **signed(secret="guessed")},
            "signature does not match the body",
        ),
    ],
)
def test_both_configured_requires_both(headers: dict[str, str], message: str) -> None:
    with pytest.raises(AuthenticationError, match=message):
        verify(BOTH, headers, BODY, now=NOW)


def test_no_credentials_fails_closed() -> None:
    """Settings validation forbids this; verify still refuses rather than letting all in."""
    empty = SourceAuth.model_construct(bearer_token=None, hmac_secret=None)

    with pytest.raises(AuthenticationError, match="no bearer_token, query_token or hmac_secret"):
        verify(empty, {"Authorization": "Bearer "}, BODY, now=NOW)


# A token in another header, a token in the URL


def test_token_in_a_named_header_bare_or_as_bearer() -> None:
    auth = SourceAuth(bearer_token=TOKEN, token_header="X-Tocsin-Token")

    verify(auth, {"x-tocsin-token": TOKEN}, BODY, now=NOW)
    verify(auth, {"X-Tocsin-Token": f"Bearer {TOKEN}"}, BODY, now=NOW)
    with pytest.raises(AuthenticationError, match="missing X-Tocsin-Token header"):
        verify(auth, {"Authorization": f"Bearer {TOKEN}"}, BODY, now=NOW)
    with pytest.raises(AuthenticationError, match="invalid X-Tocsin-Token"):
        verify(auth, {"X-Tocsin-Token": "guessed"}, BODY, now=NOW)


def test_query_token() -> None:
    auth = SourceAuth(query_token=TOKEN)

    verify(auth, {}, BODY, now=NOW, query={"token": [TOKEN]})
    for query, message in (
        ({}, "missing token query parameter"),
        ({"token": [TOKEN, TOKEN]}, "missing token query parameter"),
        ({"token": ["guessed"]}, "invalid token query parameter"),
        ({"token": [TOKEN + "x"]}, "invalid token query parameter"),
    ):
        with pytest.raises(AuthenticationError, match=message):
            verify(auth, {"Authorization": f"Bearer {TOKEN}"}, BODY, now=NOW, query=query)


def test_every_configured_method_must_pass() -> None:
    auth = SourceAuth(bearer_token=TOKEN, query_token="other-" + TOKEN)

    verify(
        auth,
        {"Authorization": f"Bearer {TOKEN}"},
        BODY,
        now=NOW,
        query={"token": ["other-" + TOKEN]},
    )
    with pytest.raises(AuthenticationError, match="missing token query parameter"):
        verify(auth, {"Authorization": f"Bearer {TOKEN}"}, BODY, now=NOW)


# Sentry: Sentry-Hook-Signature, the hex HMAC-SHA256 of the body under the client secret

SENTRY = SourceAuth(hmac_secret=SECRET, hmac_scheme="sentry")


def sentry_headers(
    body: bytes = BODY, secret: str = SECRET, timestamp: float | None = NOW
) -> dict[str, str]:
    headers = {"Sentry-Hook-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
    if timestamp is not None:
        headers["Sentry-Hook-Timestamp"] = str(int(timestamp))
    return headers


def test_sentry_signature_accepted_with_and_without_its_timestamp() -> None:
    verify(SENTRY, sentry_headers(), BODY, now=NOW)
    verify(SENTRY, sentry_headers(timestamp=None), BODY, now=NOW)
    verify(SENTRY, sentry_headers(timestamp=NOW - 299), BODY, now=NOW)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing Sentry-Hook-Signature header"),
        (sentry_headers(secret="guessed"), "signature does not match the body"),
        (sentry_headers(body=BODY + b" "), "signature does not match the body"),
        ({"X-Tocsin-Signature": sign(SECRET, BODY, int(NOW))}, "missing Sentry-Hook-Signature"),
        (sentry_headers(timestamp=NOW - 301), "Sentry-Hook-Timestamp: .*stale or replayed"),
        (sentry_headers(timestamp=NOW + 400), "Sentry-Hook-Timestamp: .*stale or replayed"),
        ({**sentry_headers(), "Sentry-Hook-Timestamp": "soon"}, "must be unix seconds"),
    ],
)
def test_sentry_signature_refused(headers: dict[str, str], message: str) -> None:
    with pytest.raises(AuthenticationError, match=message):
        verify(SENTRY, headers, BODY, now=NOW)
