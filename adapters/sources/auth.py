"""Authentication of inbound alert webhooks: a bearer token, an HMAC signature, or both.

The signature header (`SourceAuth.hmac_header`, default `X-Tocsin-Signature`) reads
`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`. Binding the timestamp into the MAC and
refusing timestamps more than `max_skew` seconds from `now` (the freshness rule every signed
inbound request follows, `adapters.edge.replay.Window`) stops a captured request from being
replayed later. Several `v1=` entries may be sent (a sender rotating secrets); one must match.
Unknown `key=value` entries are ignored so the scheme can grow.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from adapters.edge.replay import Window
from bot.errors import AuthenticationError
from bot.settings.sourceauth import SourceAuth

_KEY = re.compile(r"[a-z][a-z0-9]*")
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def verify(
    auth: SourceAuth,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    max_skew: float = 300,
) -> None:
    """Return if the request satisfies every configured method, else raise AuthenticationError."""
    if not auth.bearer_token and not auth.hmac_secret:
        raise AuthenticationError("source has no bearer_token or hmac_secret configured")
    if auth.bearer_token:
        _verify_bearer(auth.bearer_token, _header(headers, "Authorization"))
    if auth.hmac_secret:
        value = _header(headers, auth.hmac_header)
        if value is None:
            raise AuthenticationError(f"missing {auth.hmac_header} header")
        _verify_signature(auth.hmac_secret, auth.hmac_header, value, body, now, max_skew)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _verify_bearer(token: str, authorization: str | None) -> None:
    if authorization is None:
        raise AuthenticationError("missing Authorization header (expected: Bearer <token>)")
    scheme, _, presented = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise AuthenticationError("Authorization header must be: Bearer <token>")
    if not hmac.compare_digest(presented.strip().encode(), token.encode()):
        raise AuthenticationError("invalid bearer token")


def _verify_signature(
    secret: str, header: str, value: str, body: bytes, now: float, max_skew: float
) -> None:
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep or not _KEY.fullmatch(key):
            raise AuthenticationError(f"{header}: malformed, expected t=<unix seconds>,v1=<hex>")
        if key == "t":
            timestamps.append(item)
        elif key == "v1":
            signatures.append(item.lower())
    if len(timestamps) != 1 or not _UNIX_SECONDS.fullmatch(timestamps[0]):
        raise AuthenticationError(f"{header}: needs exactly one t=<unix seconds>")
    if not signatures:
        raise AuthenticationError(f"{header}: needs a v1=<hex HMAC-SHA256> signature")
    timestamp = int(timestamps[0])
    expected = _mac(secret, timestamp, body).encode()
    if not any(hmac.compare_digest(expected, sig.encode()) for sig in signatures):
        raise AuthenticationError(f"{header}: signature does not match the body")
    if not Window(timedelta(seconds=max_skew)).fresh(
        str(timestamp), datetime.fromtimestamp(now, UTC)
    ):
        raise AuthenticationError(
            f"{header}: timestamp {timestamp} is more than {max_skew:g} s from the server's "
            "clock (stale or replayed request, or clock skew)"
        )
