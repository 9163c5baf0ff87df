"""What every adapter that calls out through ``httpx`` shares (the notifiers, the deploy backends
and the metrics sources): transport failures as delivery errors, answers read leniently,
``Retry-After`` read.

- timeouts and connection failures → `RetryableDelivery` (a bad URL scheme: permanent);
- a body that is not a JSON object reads as ``{}``;
- ``Retry-After`` as seconds, whether given as a number or an HTTP date.

What an answer's status means is for each adapter to judge. Messages name the adapter and the
call (`what`), never a credential, a signature or a request body.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.errors import PermanentDelivery, RetryableDelivery

Json = dict[str, Any]


async def send(
    client: httpx.AsyncClient, method: str, url: str, what: str, **kwargs: Any
) -> httpx.Response:
    """One request, with timeouts and connection failures raised as `RetryableDelivery` and a
    URL scheme httpx cannot speak as `PermanentDelivery` (``what: …``)."""
    try:
        return await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise RetryableDelivery(f"{what}: timed out") from exc
    except httpx.UnsupportedProtocol as exc:
        raise PermanentDelivery(f"{what}: unsupported URL scheme") from exc
    except httpx.TransportError as exc:
        raise RetryableDelivery(f"{what}: {type(exc).__name__}") from exc


def json_body(response: httpx.Response) -> Json:
    """The answer as a JSON object, or ``{}`` when it is not one (an HTML error page…)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date measured from the answer's
    ``Date`` (so no local clock is needed). None when absent or unreadable."""
    raw = response.headers.get("retry-after", "").strip()
    if not raw:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        return float(raw)
    try:
        until = parsedate_to_datetime(raw)
        sent = parsedate_to_datetime(response.headers.get("date", ""))
    except (TypeError, ValueError):
        return None
    return max((until - sent).total_seconds(), 0.0)
