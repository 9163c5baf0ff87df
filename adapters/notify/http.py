"""What the HTTP providers share: one `httpx.AsyncClient` each, transport failures as delivery
errors, ``Retry-After`` read, and answers parsed leniently.

- timeouts and connection failures → `RetryableDelivery` (a bad URL scheme: permanent);
- ``Retry-After`` as seconds, whether given as a number or an HTTP date;
- the status and error code of an answer are for each provider module to judge.

Messages name the provider and the call, never a credential, a signature or a request body.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.errors import PermanentDelivery, RetryableDelivery

Json = dict[str, Any]


def make_client(base_url: str, timeout: timedelta) -> httpx.AsyncClient:
    """The notifier's client; nothing connects until the first send."""
    return httpx.AsyncClient(
        base_url=base_url, timeout=timeout.total_seconds(), follow_redirects=False
    )


async def post(client: httpx.AsyncClient, what: str, url: str, **kwargs: Any) -> httpx.Response:
    """POST, with timeouts and connection failures raised as `RetryableDelivery`."""
    try:
        return await client.post(url, **kwargs)
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
