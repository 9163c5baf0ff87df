"""HTTP-mode request verification: Slack's v0 signature, the 5-minute window, no replays.

The signature is checked by slack_sdk's `SignatureVerifier` (HMAC-SHA256 over
``v0:<timestamp>:<body>``, constant-time comparison, ``|now − timestamp| ≤ 300 s``), on Tocsin's
injected clock. A signature already accepted is refused: the same signed request twice is a
replay (or a re-send of a delivery that already succeeded). Accepted signatures are claimed in
`Replays` — the database-backed `bot.replay.ReplayGuard` (``slack:replay``) in production, so a
captured request is refused by every replica, not only the one that saw it first. A signature is
claimed while its request runs and released if that request failed, so a retry of a failed
delivery still gets through; Slack's retries of an event are de-duplicated by its event id.
"""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.signature import Clock as SdkClock
from slack_sdk.signature import SignatureVerifier

from bot.clock import Clock
from bot.replay import Replays

WINDOW = 300.0
"""Seconds a request's timestamp may differ from now (Slack's own recommendation)."""


class _ClockSeconds(SdkClock):
    """Tocsin's clock as the seconds slack_sdk's verifier asks for."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now().timestamp()


class RequestVerifier:
    def __init__(self, signing_secret: str, clock: Clock, replays: Replays) -> None:
        self._verifier = SignatureVerifier(signing_secret, clock=_ClockSeconds(clock))
        self._replays = replays

    async def verify(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """The request's signature if it is authentic, fresh and new (now claimed); else None.
        Raises when the claim cannot be stored (the database is unavailable)."""
        timestamp = headers.get("x-slack-request-timestamp")
        signature = headers.get("x-slack-signature")
        if not timestamp or not signature or not timestamp.strip().isdigit():
            return None
        try:
            valid = self._verifier.is_valid(body.decode("utf-8"), timestamp.strip(), signature)
        except (UnicodeDecodeError, ValueError):
            return None
        if not valid or not await self._replays.claim(signature):
            return None
        return signature

    async def release(self, signature: str) -> None:
        """The request with `signature` failed: let Slack's retry of it through."""
        await self._replays.release(signature)
