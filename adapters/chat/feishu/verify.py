"""Webhook requests checked before anything reads them: encrypted, signed, fresh, new, ours.

In order, each failure a `Rejected` with the HTTP status to answer and a reason:

1. the body is a JSON object with an ``encrypt`` field (400 malformed, 401 not encrypted: Tocsin
   requires an Encrypt Key, so every request is encrypted and signed);
2. when signed: the timestamp, nonce and signature headers all present,
   ``X-Lark-Request-Timestamp`` (seconds) within the replay window of Tocsin's clock, the
   ``X-Lark-Signature`` exactly lark-oapi's (lower-case hex; constant time), and the signature
   not seen before (401);
3. the body decrypts with the Encrypt Key (401) to a JSON object (400);
4. its verification token (``header.token``, or ``token`` in a URL-verification challenge) is the
   app's (401); only the challenge may come unsigned (401).

A signature is claimed while its request runs and released if that request failed, so a
re-delivery of a failed event still gets through. Freshness and the claim are the rule every
platform shares (`adapters.edge.replay`); claims are kept in the database (`bot.replay`), so
every replica refuses a replay; Feishu's re-deliveries of an event that
succeeded are de-duplicated by their ids in the database.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from adapters.chat.feishu.crypto import DecryptError, decrypt, same_secret, signature
from adapters.edge.replay import SignedOnce, Stamp, Window
from bot.clock import Clock
from bot.replay import Replays

URL_VERIFICATION = "url_verification"
TIMESTAMP = "x-lark-request-timestamp"
NONCE = "x-lark-request-nonce"
SIGNATURE = "x-lark-signature"


class Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        self.status, self.reason = status, reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Verified:
    envelope: dict[str, Any]
    """The decrypted event or callback."""
    claim: str | None
    """The signature now claimed (None for an unsigned URL-verification challenge)."""

    @property
    def challenge(self) -> str | None:
        """The challenge to echo when this is Feishu checking the request URL."""
        if self.envelope.get("type") != URL_VERIFICATION:
            return None
        challenge = self.envelope.get("challenge")
        return challenge if isinstance(challenge, str) else ""


class RequestVerifier:
    def __init__(
        self,
        encrypt_key: str,
        verification_token: str,
        clock: Clock,
        window: timedelta,
        replays: Replays,
    ) -> None:
        self._key, self._token = encrypt_key, verification_token
        self._once = SignedOnce(Window(window), clock, replays)

    async def verify(self, body: bytes, headers: Mapping[str, str]) -> Verified:
        """The decrypted request if it is authentic, fresh and new (its signature now claimed);
        else `Rejected`."""
        verified = self.authentic(body, headers)
        if verified.claim is not None and not await self._once.claim(verified.claim):
            raise Rejected(401, "a request already received (replayed)")
        return verified

    def authentic(self, body: bytes, headers: Mapping[str, str]) -> Verified:
        """The decrypted request if it is authentic and fresh (new or not); else `Rejected`."""
        encrypted = _encrypted(body)
        signed = self._signed(body, headers)
        try:
            plaintext = decrypt(encrypted, self._key)
        except DecryptError:
            raise Rejected(401, "the body does not decrypt with the Encrypt Key") from None
        envelope = _object(plaintext, "the decrypted body is not a JSON object")
        challenge = envelope.get("type") == URL_VERIFICATION
        token = envelope.get("token") if challenge else _header(envelope).get("token")
        if not same_secret(token, self._token):
            raise Rejected(401, "wrong verification token")
        if signed is None and not challenge:
            raise Rejected(401, "unsigned request: X-Lark-Signature headers are missing")
        return Verified(envelope, signed)

    async def release(self, claim: str | None) -> None:
        """The request with this signature failed: let Feishu's re-delivery of it through."""
        if claim is not None:
            await self._once.release(claim)

    def _signed(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """The request's signature when it is signed correctly and fresh; None when unsigned.

        Checked exactly as lark-oapi's ``EventDispatcherHandler._verify_sign`` will check it
        (timestamp, nonce and signature headers all present, the signature the lower-case hex
        digest, nothing stripped), so that no request it would refuse gets past this edge."""
        timestamp, nonce, given = (headers.get(name) for name in (TIMESTAMP, NONCE, SIGNATURE))
        if timestamp is None and nonce is None and given is None:
            return None
        if timestamp is None or nonce is None or not given:
            raise Rejected(401, "incomplete X-Lark signature headers (timestamp, nonce, signature)")
        stamp = self._once.judge(timestamp)
        if stamp is Stamp.MALFORMED:
            raise Rejected(401, "malformed X-Lark-Request-Timestamp")
        if stamp is Stamp.STALE:
            raise Rejected(401, "stale or future X-Lark-Request-Timestamp (a replay?)")
        expected = signature(timestamp, nonce, self._key, body)
        if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
            raise Rejected(401, "wrong X-Lark-Signature (lower-case hex expected)")
        return given


def _encrypted(body: bytes) -> str:
    outer = _object(body, "the body is not a JSON object")
    encrypted = outer.get("encrypt")
    if not isinstance(encrypted, str) or not encrypted:
        raise Rejected(401, "the body is not encrypted: Tocsin requires the app's Encrypt Key")
    return encrypted


def _object(raw: bytes | str, problem: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Rejected(400, problem) from None
    if not isinstance(data, dict):
        raise Rejected(400, problem)
    return data


def _header(envelope: Mapping[str, Any]) -> Mapping[str, Any]:
    header = envelope.get("header")
    return header if isinstance(header, Mapping) else envelope
