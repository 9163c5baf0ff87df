"""Authentication of inbound alert webhooks: tokens, an HMAC signature, or several at once.

Every method the source's `SourceAuth` configures must pass (see `bot.settings.sourceauth`):

- a bearer token, in ``Authorization: Bearer <token>`` or in the header `token_header` names;
- a token in the URL's ``token`` query parameter, for senders that set no header;
- Tocsin's signature (`hmac_scheme: tocsin`): the header reads
  ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``. Binding the timestamp into the MAC
  and refusing timestamps more than `max_skew` seconds from `now` (the freshness rule every
  signed inbound request follows, `adapters.edge.replay.Window`) stops a captured request from
  being replayed later. Several `v1=` entries may be sent (a sender rotating secrets); one must
  match. Unknown `key=value` entries are ignored so the scheme can grow;
- Sentry's signature (`hmac_scheme: sentry`): ``Sentry-Hook-Signature`` is the hex HMAC-SHA256
  of the body under the integration's client secret. Sentry's ``Sentry-Hook-Timestamp`` is not
  part of what it signs, so it is checked for freshness when present but cannot stop a replay
  on its own; a replayed alert is a repeat, and repeats de-duplicate.

Tokens are compared in constant time.
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
    query: Mapping[str, list[str]] | None = None,
) -> None:
    """Return if the request satisfies every configured method, else raise AuthenticationError.
    `query` is the URL's parsed query string (`urllib.parse.parse_qs`)."""
    if not auth.methods:
        raise AuthenticationError("source has no bearer_token, query_token or hmac_secret")
    if auth.bearer_token:
        _verify_token(auth.bearer_token, auth.token_header, _header(headers, auth.token_header))
    if auth.query_token:
        presented = (query or {}).get("token", [])
        if len(presented) != 1:
            raise AuthenticationError("missing token query parameter (expected: ?token=<token>)")
        _same(presented[0], auth.query_token, "invalid token query parameter")
    if auth.hmac_secret:
        header = auth.signature_header
        value = _header(headers, header)
        if value is None:
            raise AuthenticationError(f"missing {header} header")
        if auth.hmac_scheme == "sentry":
            _verify_sentry(auth.hmac_secret, header, value, headers, body, now, max_skew)
        else:
            _verify_signature(auth.hmac_secret, header, value, body, now, max_skew)


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


def _same(presented: str, expected: str, error: str) -> None:
    if not hmac.compare_digest(presented.strip().encode(), expected.encode()):
        raise AuthenticationError(error)


def _verify_token(token: str, header: str, value: str | None) -> None:
    if header.lower() != "authorization":
        if value is None:
            raise AuthenticationError(f"missing {header} header (expected: the source's token)")
        scheme, _, rest = value.strip().partition(" ")
        _same(rest if scheme.lower() == "bearer" and rest else value, token, f"invalid {header}")
        return
    if value is None:
        raise AuthenticationError("missing Authorization header (expected: Bearer <token>)")
    scheme, _, presented = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise AuthenticationError("Authorization header must be: Bearer <token>")
    _same(presented, token, "invalid bearer token")


def _fresh(timestamp: int, now: float, max_skew: float) -> bool:
    window = Window(timedelta(seconds=max_skew))
    return window.fresh(str(timestamp), datetime.fromtimestamp(now, UTC))


def _verify_sentry(
    secret: str,
    header: str,
    value: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    max_skew: float,
) -> None:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(expected, value.strip().lower().encode()):
        raise AuthenticationError(f"{header}: signature does not match the body")
    stamp = _header(headers, "Sentry-Hook-Timestamp")
    if stamp is None:
        return
    if not _UNIX_SECONDS.fullmatch(stamp.strip()):
        raise AuthenticationError("Sentry-Hook-Timestamp: must be unix seconds")
    if not _fresh(int(stamp.strip()), now, max_skew):
        raise AuthenticationError(
            f"Sentry-Hook-Timestamp: {stamp.strip()} is more than {max_skew:g} s from the "
            "server's clock (stale or replayed request, or clock skew)"
        )


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
    if not _fresh(timestamp, now, max_skew):
        raise AuthenticationError(
            f"{header}: timestamp {timestamp} is more than {max_skew:g} s from the server's "
            "clock (stale or replayed request, or clock skew)"
        )
