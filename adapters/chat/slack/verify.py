"""HTTP-mode request verification: Slack's v0 signature, the 5-minute window, no replays.

The signature is checked by slack_sdk's `SignatureVerifier` (HMAC-SHA256 over
``v0:<timestamp>:<body>``, constant-time comparison, ``|now − timestamp| ≤ 300 s``), on Tocsin's
injected clock. A signature already accepted is refused while it could still be valid: the same
signed request twice is a replay (or a re-send of a delivery that already succeeded). A signature
is claimed while its request runs and released if that request failed, so a retry of a failed
delivery still gets through; Slack's retries of an event are de-duplicated by its event id.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from slack_sdk.signature import Clock as SdkClock
from slack_sdk.signature import SignatureVerifier

from bot.clock import Clock

WINDOW = 300.0
"""Seconds a request's timestamp may differ from now (Slack's own recommendation)."""
MAX_REMEMBERED = 100_000


class _ClockSeconds(SdkClock):
    """Tocsin's clock as the seconds slack_sdk's verifier asks for."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now().timestamp()


class RequestVerifier:
    def __init__(self, signing_secret: str, clock: Clock) -> None:
        self._clock = clock
        self._verifier = SignatureVerifier(signing_secret, clock=_ClockSeconds(clock))
        self._seen: OrderedDict[str, float] = OrderedDict()

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """The request's signature if it is authentic, fresh and new (now claimed); else None."""
        timestamp = headers.get("x-slack-request-timestamp")
        signature = headers.get("x-slack-signature")
        if not timestamp or not signature or not timestamp.strip().isdigit():
            return None
        try:
            valid = self._verifier.is_valid(body.decode("utf-8"), timestamp.strip(), signature)
        except (UnicodeDecodeError, ValueError):
            return None
        if not valid:
            return None
        now = self._clock.now().timestamp()
        self._forget_expired(now)
        if signature in self._seen:
            return None
        self._seen[signature] = now + 2 * WINDOW  # a timestamp may lie up to WINDOW ahead
        while len(self._seen) > MAX_REMEMBERED:
            self._seen.popitem(last=False)
        return signature

    def release(self, signature: str) -> None:
        """The request with `signature` failed: let Slack's retry of it through."""
        self._seen.pop(signature, None)

    def _forget_expired(self, now: float) -> None:
        while self._seen:
            signature, until = next(iter(self._seen.items()))
            if until > now:
                return
            del self._seen[signature]
