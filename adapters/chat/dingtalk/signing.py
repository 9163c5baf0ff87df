"""DingTalk's ``timestamp``/``sign`` scheme, both ways.

One formula serves both directions (DingTalk documents no official test vector for it)::

    sign = base64(HmacSHA256(key=secret, msg=f"{timestamp_ms}\\n{secret}"))

- outbound, a custom robot's 加签: the webhook gets ``&timestamp=…&sign=<url-encoded sign>``;
- inbound, the HTTP-mode robot callback: headers ``timestamp`` and ``sign`` made with the app
  secret. `CallbackVerifier` accepts a request whose timestamp (milliseconds) is within the
  window (one hour by DingTalk's rule) and whose sign matches (constant-time), once — the rule
  every platform shares (`adapters.edge.replay`). The sign covers only the time
  and the secret, so two genuine messages sent in the same millisecond carry the same headers:
  the replay guard keys on the headers *and* a SHA-256 digest of the body (which holds the
  message's ``msgId``), so each message is let through once and an exact replay is refused while
  its timestamp is still inside the window (claims outlive it, see `bot.replay`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import quote_plus

from adapters.edge.replay import SignedOnce, Window
from bot.clock import Clock
from bot.replay import Replays


def sign(secret: str, timestamp_ms: int | str) -> str:
    """The base64 signature of `timestamp_ms` (milliseconds) with `secret`."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_webhook(webhook: str, secret: str, timestamp_ms: int) -> str:
    """A custom robot's webhook URL with its 加签 parameters appended."""
    signature = quote_plus(sign(secret, timestamp_ms))
    return f"{webhook}&timestamp={timestamp_ms}&sign={signature}"


class CallbackVerifier:
    """Verifies HTTP-mode callbacks on Tocsin's clock and refuses replays."""

    def __init__(self, app_secret: str, clock: Clock, window: timedelta, replays: Replays) -> None:
        self._secret = app_secret
        self._once = SignedOnce(Window(window, per_second=1000), clock, replays)

    async def verify(self, headers: Mapping[str, str], body: bytes = b"") -> str | None:
        """The request's claim if it is authentic, fresh and new (now claimed); else None.
        `body` is what the request carried: the same headers with another body are another
        message."""
        key = self.authentic(headers, body)
        if key is None or not await self._once.claim(key):
            return None
        return key

    def authentic(self, headers: Mapping[str, str], body: bytes = b"") -> str | None:
        """The request's replay key if its sign is right and fresh (new or not); else None."""
        stamp = (headers.get("timestamp") or "").strip()
        given = (headers.get("sign") or "").strip()
        if not given or not self._once.fresh(stamp):
            return None
        if not hmac.compare_digest(sign(self._secret, stamp).encode(), given.encode()):
            return None
        return f"{stamp}:{given}:{hashlib.sha256(body).hexdigest()}"

    async def release(self, key: str) -> None:
        """The request claimed as `key` failed: let DingTalk's retry of it through."""
        await self._once.release(key)
