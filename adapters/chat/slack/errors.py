"""Slack Web API failures as Tocsin's delivery errors, decided at the edge.

- HTTP 429 or ``ratelimited`` → `RetryableDelivery` with ``retry_after`` from ``Retry-After``;
- HTTP 5xx, Slack's own transient errors, timeouts and connection errors → `RetryableDelivery`;
- everything else Slack refuses (``channel_not_found``, ``not_in_channel``, ``invalid_auth``,
  ``message_not_found``, ``invalid_blocks``…) → `PermanentDelivery`: retrying cannot help.

The outbox does the retrying; the adapter's client has no retry handlers of its own.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery

TRANSIENT = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
"""Errors Slack answers with HTTP 200 or 5xx that go away by themselves."""

NETWORK = (aiohttp.ClientError, TimeoutError, OSError)
"""What the transport raises when Slack cannot be reached in time."""


def delivery_error(method: str, exc: BaseException) -> DeliveryError:
    """The `DeliveryError` for `exc` raised by the Web API `method`; raise it ``from exc``."""
    if isinstance(exc, SlackApiError):
        return _api_error(method, exc)
    if isinstance(exc, NETWORK):
        return RetryableDelivery(f"slack {method}: {type(exc).__name__}: {exc}".strip(": "))
    if isinstance(exc, SlackClientError):
        return PermanentDelivery(f"slack {method}: {exc}")
    return RetryableDelivery(f"slack {method}: unexpected {type(exc).__name__}")


def _api_error(method: str, exc: SlackApiError) -> DeliveryError:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    error = str(data.get("error", "")) if isinstance(data, dict) else ""
    retry_after = _retry_after(getattr(response, "headers", None) or {})
    reason = error or f"HTTP {status}"
    if status == 429 or error in ("ratelimited", "rate_limited"):
        return RetryableDelivery(f"slack {method}: rate limited ({reason})", retry_after)
    if status >= 500 or error in TRANSIENT:
        return RetryableDelivery(f"slack {method}: {reason}", retry_after)
    return PermanentDelivery(f"slack {method}: {reason}")


def _retry_after(headers: object) -> float | None:
    get = getattr(headers, "get", None)
    raw = (get("Retry-After") or get("retry-after")) if callable(get) else None
    try:
        seconds = float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
    return seconds if seconds is not None and seconds >= 0 else None
