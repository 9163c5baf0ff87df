"""HTTP-mode request verification: Slack's v0 signature, the 5-minute window, no replays.

The signature is slack_sdk's (HMAC-SHA256 over ``v0:<timestamp>:<body>``, compared in constant
time); the timestamp must be within Slack's 5 minutes of Tocsin's clock and the request is
claimed once, by the rule every platform shares (`adapters.edge.replay`). The claim is the
signature, kept in the database-backed `bot.replay.ReplayGuard` (``slack:replay``) in
production, so a captured request is refused by every replica, not only the one that saw it
first. A signature is claimed while its request runs and released if that request failed, so a
retry of a failed delivery still gets through; Slack's retries of an event are de-duplicated by
its event id.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import timedelta

from slack_sdk.signature import SignatureVerifier

from adapters.edge.replay import SignedOnce, Window
from bot.clock import Clock
from bot.replay import Replays

WINDOW = Window(timedelta(minutes=5))
"""How far a request's timestamp may be from now (Slack's own recommendation), in seconds."""


class RequestVerifier:
    def __init__(self, signing_secret: str, clock: Clock, replays: Replays) -> None:
        self._verifier = SignatureVerifier(signing_secret)
        self._once = SignedOnce(WINDOW, clock, replays)

    async def verify(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """The request's signature if it is authentic, fresh and new (now claimed); else None.
        Raises when the claim cannot be stored (the database is unavailable)."""
        timestamp = (headers.get("x-slack-request-timestamp") or "").strip()
        signature = headers.get("x-slack-signature")
        if not signature or not self._once.fresh(timestamp):
            return None
        try:
            expected = self._verifier.generate_signature(
                timestamp=timestamp, body=body.decode("utf-8")
            )
        except UnicodeDecodeError:
            return None
        if expected is None or not hmac.compare_digest(
            expected.encode(), signature.encode("utf-8", "replace")
        ):
            return None
        if not await self._once.claim(signature):
            return None
        return signature

    async def release(self, signature: str) -> None:
        """The request with `signature` failed: let Slack's retry of it through."""
        await self._once.release(signature)
