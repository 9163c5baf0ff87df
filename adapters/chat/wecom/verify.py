"""Callback verification: WXBizMsgCrypt signature and decryption, a time window, no replays.

`CallbackGate.open` takes the query (``msg_signature``, ``timestamp``, ``nonce``) and the
ciphertext, and gives the decrypted message only when

1. the signature is WeCom's (sha1 over the sorted token, timestamp, nonce and ciphertext);
2. the timestamp (seconds) is within ``window`` of now (Tocsin's injected clock);
3. the ciphertext decrypts, pads and carries the expected receive id;
4. this timestamp + nonce was not seen before while it could still be valid (a replay).

Steps 2 and 4 are the rule every platform shares (`adapters.edge.replay`). A request that passed
is *claimed*, in the database (`bot.replay`) so that every replica refuses its replay;
`release` lets a later re-delivery of it through when handling it failed. URL verification
(`echo`) checks the same and answers the decrypted echo.
Failures raise `AuthenticationError` (401) or `InputError` (400), each saying what was wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from adapters.chat.wecom.crypto import WXBizMsgCrypt
from adapters.edge.replay import SignedOnce, Stamp, Window
from bot.clock import Clock
from bot.errors import AuthenticationError, InputError
from bot.replay import Replays


class CallbackGate:
    def __init__(
        self,
        crypt: WXBizMsgCrypt,
        clock: Clock,
        window: timedelta,
        replays: Replays,
        *,
        scope: str = "app",
    ) -> None:
        self.crypt = crypt
        self.once = SignedOnce(Window(window), clock, replays)
        self.scope = scope
        """Told apart from the other callback URL's claims (the app's, the AI bot's)."""

    async def echo(self, query: Mapping[str, str]) -> str:
        """URL verification: the decrypted ``echostr``."""
        echostr = query.get("echostr", "")
        if not echostr:
            raise InputError("wecom: URL verification without echostr")
        plaintext, _claim = await self.open(query, echostr)
        return plaintext

    async def open(self, query: Mapping[str, str], ciphertext: str) -> tuple[str, str]:
        """The decrypted message and its claim, or an error saying why not."""
        plaintext, claim = self.authentic(query, ciphertext)
        if not await self.once.claim(claim):
            raise AuthenticationError("wecom: replayed request (timestamp and nonce seen before)")
        return plaintext, claim

    def authentic(self, query: Mapping[str, str], ciphertext: str) -> tuple[str, str]:
        """The decrypted message and its replay key (new or not), or an error saying why not."""
        signature = query.get("msg_signature", "")
        timestamp, nonce = query.get("timestamp", "").strip(), query.get("nonce", "").strip()
        if not signature or not timestamp or not nonce:
            raise AuthenticationError("wecom: msg_signature, timestamp and nonce are required")
        self.crypt.verify(signature, timestamp, nonce, ciphertext)
        stamp = self.once.judge(timestamp)
        if stamp is Stamp.MALFORMED:
            raise AuthenticationError("wecom: the timestamp is not a number")
        if stamp is Stamp.STALE:
            seconds = int(self.once.window.span.total_seconds())
            raise AuthenticationError(
                f"wecom: stale or future timestamp (more than {seconds} s from now; "
                "is the server clock right?)"
            )
        plaintext = self.crypt.decrypt(ciphertext)
        return plaintext, f"{self.scope}:{timestamp}:{nonce}"

    async def release(self, claim: str) -> None:
        """Handling the request with `claim` failed: let WeCom's re-delivery through."""
        await self.once.release(claim)
