"""DingTalk API failures as Tocsin's delivery errors, decided at the edge.

Two API families answer differently:

- the OpenAPI (``api.dingtalk.com``): an HTTP status and ``{"code", "message"}``. HTTP 429 and
  throttling codes → `RetryableDelivery` (``Retry-After`` when given); 5xx → retryable; an
  expired or revoked access token → retryable (the adapter fetches a new one next time); other
  4xx (no permission, unknown group, bad template…) → `PermanentDelivery`;
- the old API (``oapi.dingtalk.com``: custom robots, session webhooks): HTTP 200 with
  ``{"errcode", "errmsg"}``. ``130101`` (over 20 a minute) → retryable after DingTalk's 10-minute
  block; ``-1`` (busy) → retryable; anything else non-zero (bad sign, keyword missing, unknown
  token, disbanded group…) → permanent.

Timeouts and connection errors are retryable. The outbox does the retrying; nothing here retries.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery

THROTTLED_FOR = 600.0
"""Seconds DingTalk blocks a custom robot that sent more than 20 messages in a minute."""
BUSY_RETRY = 1.0
THROTTLING = ("throttl", "qpslimit", "flowcontrol", "ratelimit")
TOKEN_CODES = frozenset({"invalidauthentication", "invalidaccesstoken", "accesstokenexpired"})
OAPI_RETRYABLE = {-1: BUSY_RETRY, 130101: THROTTLED_FOR, 130102: THROTTLED_FOR}


class TokenRejected(RetryableDelivery):
    """The access token was refused: forget it and fetch a new one before the next call."""


def transport_error(what: str, exc: Exception, *, quiet: bool = False) -> RetryableDelivery:
    """A timeout or connection failure calling `what`; `quiet` leaves out the exception's text
    (a custom robot's URL carries its token and sign)."""
    detail = "" if quiet else f": {exc}"
    return RetryableDelivery(f"dingtalk {what}: {type(exc).__name__}{detail}".rstrip(": "))


def openapi_error(what: str, response: httpx.Response) -> DeliveryError | None:
    """The error an OpenAPI answer stands for, or None when it succeeded."""
    status = response.status_code
    body = _json(response)
    code = str(body.get("code") or "")
    if 200 <= status < 300 and not code:
        return None
    reason = f"HTTP {status} {code}: {body.get('message') or response.reason_phrase}".strip()
    folded = code.lower().replace(".", "").replace("_", "")
    if status == 429 or any(word in folded for word in THROTTLING):
        return RetryableDelivery(
            f"dingtalk {what}: rate limited ({reason})", retry_after(response) or BUSY_RETRY
        )
    if status == 401 or folded in TOKEN_CODES:
        return TokenRejected(f"dingtalk {what}: access token refused ({reason})")
    if status >= 500:
        return RetryableDelivery(f"dingtalk {what}: {reason}", retry_after(response))
    return PermanentDelivery(f"dingtalk {what}: {reason}")


def oapi_error(what: str, response: httpx.Response) -> DeliveryError | None:
    """The error an old-API answer (``errcode``) stands for, or None when it succeeded."""
    if response.status_code == 429 or response.status_code >= 500:
        return RetryableDelivery(
            f"dingtalk {what}: HTTP {response.status_code}", retry_after(response)
        )
    body = _json(response)
    if response.status_code >= 400:
        return PermanentDelivery(f"dingtalk {what}: HTTP {response.status_code}: {body}")
    try:
        errcode = int(body.get("errcode", 0))
    except (TypeError, ValueError):
        errcode = -1
    if errcode == 0:
        return None
    reason = f"errcode {errcode}: {body.get('errmsg', '')}".strip()
    if errcode in OAPI_RETRYABLE:
        return RetryableDelivery(f"dingtalk {what}: {reason}", OAPI_RETRYABLE[errcode])
    return PermanentDelivery(f"dingtalk {what}: {reason}")


def retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
