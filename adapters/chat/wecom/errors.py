"""WeCom API failures as Tocsin's delivery errors, decided at the edge.

WeCom answers most failures with HTTP 200 and an ``errcode``:

- rate limits (45009 "api freq out of limit", 45011, 45033 concurrency) → `RetryableDelivery`
  with ``retry_after`` (a minute: WeCom's limits are per minute);
- ``-1`` "system busy", HTTP 5xx, HTTP 429, timeouts and connection errors → `RetryableDelivery`;
- an expired or invalid access token (40014, 42001, 41001) → `TokenExpired`, which the client
  answers by fetching a new token (it never reaches the outbox unless the fresh one fails too);
- everything else (81013 nobody valid to send to, 60020 IP not allowed, 40003 bad userid,
  93000 bad robot key, 40058 bad parameter…) → `PermanentDelivery`: retrying cannot help.

The outbox does the retrying; the client never retries a delivery by itself.
"""

from __future__ import annotations

import httpx

from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery

RATE_LIMITED = frozenset({45009, 45011, 45033})
BUSY = frozenset({-1})
TOKEN = frozenset({40014, 42001, 41001})
RATE_RETRY_AFTER = 60.0
"""Seconds to wait after a rate-limit errcode (WeCom gives no Retry-After)."""


class TokenExpired(RetryableDelivery):
    """The access token was refused; a new one is fetched and the call made once more."""


def api_error(method: str, errcode: int, errmsg: str) -> DeliveryError:
    """The `DeliveryError` for an ``errcode`` WeCom answered `method` with."""
    reason = f"wecom {method}: errcode {errcode} {errmsg}".strip()
    if errcode in RATE_LIMITED:
        return RetryableDelivery(f"{reason} (rate limited)", RATE_RETRY_AFTER)
    if errcode in BUSY:
        return RetryableDelivery(reason)
    if errcode in TOKEN:
        return TokenExpired(reason)
    return PermanentDelivery(reason)


def http_error(method: str, response: httpx.Response) -> DeliveryError:
    """The `DeliveryError` for a non-2xx HTTP answer."""
    status = response.status_code
    retry_after = _retry_after(response.headers.get("retry-after"))
    if status == 429:
        return RetryableDelivery(f"wecom {method}: HTTP 429 rate limited", retry_after)
    if status >= 500:
        return RetryableDelivery(f"wecom {method}: HTTP {status}", retry_after)
    return PermanentDelivery(f"wecom {method}: HTTP {status}")


def network_error(method: str, exc: httpx.HTTPError) -> DeliveryError:
    """Timeouts and connection failures: WeCom could not be reached in time."""
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return RetryableDelivery(f"wecom {method}: {type(exc).__name__}")
    return PermanentDelivery(f"wecom {method}: {type(exc).__name__}")


def _retry_after(raw: str | None) -> float | None:
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None
