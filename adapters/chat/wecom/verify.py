"""Callback verification: WXBizMsgCrypt signature and decryption, a time window, no replays.

`CallbackGate.open` takes the query (``msg_signature``, ``timestamp``, ``nonce``) and the
ciphertext, and gives the decrypted message only when

1. the signature is WeCom's (sha1 over the sorted token, timestamp, nonce and ciphertext);
2. the timestamp is within ``window`` of now (Tocsin's injected clock);
3. the ciphertext decrypts, pads and carries the expected receive id;
4. this timestamp + nonce was not seen before while it could still be valid (a replay).

A request that passed is *claimed*; `release` lets a later re-delivery of it through when
handling it failed. URL verification (`echo`) checks the same and answers the decrypted echo.
Failures raise `AuthenticationError` (401) or `InputError` (400), each saying what was wrong.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import timedelta

from adapters.chat.wecom.crypto import WXBizMsgCrypt
from bot.clock import Clock
from bot.errors import AuthenticationError, InputError

MAX_REMEMBERED = 100_000


class CallbackGate:
    def __init__(self, crypt: WXBizMsgCrypt, clock: Clock, window: timedelta) -> None:
        self.crypt, self.clock = crypt, clock
        self.window = window.total_seconds()
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def echo(self, query: Mapping[str, str]) -> str:
        """URL verification: the decrypted ``echostr``."""
        echostr = query.get("echostr", "")
        if not echostr:
            raise InputError("wecom: URL verification without echostr")
        plaintext, _claim = self.open(query, echostr)
        return plaintext

    def open(self, query: Mapping[str, str], ciphertext: str) -> tuple[str, tuple[str, str]]:
        """The decrypted message and its claim, or an error saying why not."""
        signature = query.get("msg_signature", "")
        timestamp, nonce = query.get("timestamp", "").strip(), query.get("nonce", "").strip()
        if not signature or not timestamp or not nonce:
            raise AuthenticationError("wecom: msg_signature, timestamp and nonce are required")
        self.crypt.verify(signature, timestamp, nonce, ciphertext)
        if not timestamp.isdigit():
            raise AuthenticationError("wecom: the timestamp is not a number")
        now = self.clock.now().timestamp()
        if abs(now - int(timestamp)) > self.window:
            raise AuthenticationError(
                f"wecom: stale or future timestamp (more than {int(self.window)} s from now; "
                "is the server clock right?)"
            )
        plaintext = self.crypt.decrypt(ciphertext)
        claim = (timestamp, nonce)
        self._forget_expired(now)
        if claim in self._seen:
            raise AuthenticationError("wecom: replayed request (timestamp and nonce seen before)")
        self._seen[claim] = int(timestamp) + 2 * self.window
        while len(self._seen) > MAX_REMEMBERED:
            self._seen.popitem(last=False)
        return plaintext, claim

    def release(self, claim: tuple[str, str]) -> None:
        """Handling the request with `claim` failed: let WeCom's re-delivery through."""
        self._seen.pop(claim, None)

    def _forget_expired(self, now: float) -> None:
        while self._seen:
            claim, until = next(iter(self._seen.items()))
            if until > now:
                return
            del self._seen[claim]
