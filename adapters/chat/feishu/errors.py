"""Feishu Open API failures as Tocsin's delivery errors, decided at the edge.

- HTTP 429, or the frequency-limit codes (99991400 for the API, 230020 for a chat or a person)
  → `RetryableDelivery`, ``retry_after`` from ``Retry-After`` or ``x-ogw-ratelimit-reset``;
- HTTP 5xx, Feishu's internal-error codes, an invalid tenant token (lark-oapi fetches a new one
  once the cached one expires), timeouts, connection errors and answers that are not JSON
  → `RetryableDelivery`;
- everything else Feishu refuses (the bot is not in the chat, no such message, a card it cannot
  read, a message too old to patch, a wrong App Secret…) → `PermanentDelivery`: retrying cannot
  help.

The outbox does the retrying; the adapter never retries a call itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery

RATE_LIMITED = frozenset({99991400, 230020, 11232})
TRANSIENT = frozenset({1500, 1503, 2200, 55001, 99991663, 99991664, 99991677})
"""Codes that go away by themselves: internal errors and a tenant token gone stale."""


def response_error(
    what: str, *, status: int, code: int | None, msg: str, headers: Mapping[str, str]
) -> DeliveryError:
    """The `DeliveryError` for an answer with HTTP `status` and Feishu `code`."""
    reason = f"code {code}: {msg}" if code is not None else f"HTTP {status}"
    retry_after = _retry_after(headers)
    if status == 429 or code in RATE_LIMITED:
        return RetryableDelivery(f"feishu {what}: rate limited ({reason})", retry_after)
    if status >= 500 or code in TRANSIENT:
        return RetryableDelivery(f"feishu {what}: {reason}", retry_after)
    return PermanentDelivery(f"feishu {what}: {reason}")


def exception_error(what: str, exc: BaseException) -> DeliveryError:
    """The `DeliveryError` for `exc` raised while calling `what`; raise it ``from exc``."""
    code = getattr(exc, "code", None)
    if isinstance(code, int) and not isinstance(exc, OSError):
        # lark-oapi's token errors carry Feishu's code (10014: wrong App Secret, …)
        message = getattr(exc, "msg", "") or str(exc)
        return response_error(what, status=200, code=code, msg=str(message), headers={})
    if isinstance(exc, OSError | TimeoutError):  # requests' errors are OSErrors
        return RetryableDelivery(f"feishu {what}: {type(exc).__name__}: {exc}".strip(": "))
    if isinstance(exc, ValueError):  # an answer that is not JSON: a proxy or an outage page
        return RetryableDelivery(f"feishu {what}: unreadable answer ({type(exc).__name__})")
    return RetryableDelivery(f"feishu {what}: unexpected {type(exc).__name__}")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    lowered = {str(k).lower(): v for k, v in headers.items()}
    for name in ("retry-after", "x-ogw-ratelimit-reset"):
        raw = lowered.get(name)
        try:
            seconds = float(raw) if raw is not None else None
        except (TypeError, ValueError):
            continue
        if seconds is not None and seconds >= 0:
            return seconds
    return None
