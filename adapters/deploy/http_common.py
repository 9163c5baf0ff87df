"""What the HTTP deploy backends (argocd, gitlab, github, jenkins, webhook) share: the client,
transport failures and 429 / 5xx answers as delivery errors, and answers read leniently.

- `make_client`: the settings' ``timeout`` and ``verify_tls``, redirects never followed;
- `send` (from `adapters.edge.http`): timeouts and connection failures → `RetryableDelivery`,
  a URL scheme httpx cannot speak → `PermanentDelivery`;
- `raise_retryable`: 429 and 5xx → `RetryableDelivery` with ``Retry-After``; `accepted` adds
  the 2xx answers (and those a call allows) that go on. Other answers each backend words itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

import httpx

from adapters.edge.http import Json, json_body, retry_after, send
from bot.errors import RetryableDelivery

__all__ = [
    "Json",
    "accepted",
    "json_body",
    "make_client",
    "raise_retryable",
    "retry_after",
    "send",
]


class _Reach(Protocol):
    @property
    def timeout(self) -> timedelta: ...

    @property
    def verify_tls(self) -> bool: ...


def make_client(settings: _Reach, **options: Any) -> httpx.AsyncClient:
    """A backend's client (`options`: ``base_url``, ``headers``, ``auth``); nothing connects
    until the first call."""
    return httpx.AsyncClient(
        timeout=settings.timeout.total_seconds(),
        verify=settings.verify_tls,
        follow_redirects=False,
        **options,
    )


def raise_retryable(response: httpx.Response, message: str) -> None:
    """A 429 or 5xx answer as `RetryableDelivery(message)`, after ``Retry-After`` when given."""
    code = response.status_code
    if code == 429 or code >= 500:
        raise RetryableDelivery(message, retry_after(response))


def accepted(response: httpx.Response, what: str, allow: tuple[int, ...] = ()) -> bool:
    """True for a 2xx answer or one in `allow`; a 429 or 5xx raised (``what: HTTP <code>``);
    False for the rest, which the caller words itself."""
    code = response.status_code
    if 200 <= code < 300 or code in allow:
        return True
    raise_retryable(response, f"{what}: HTTP {code}")
    return False
