"""What the HTTP providers share: one `httpx.AsyncClient` each, transport failures as delivery
errors, ``Retry-After`` read, and answers parsed leniently (the last three from
`adapters.edge.http`, which the deploy backends use as well).

- timeouts and connection failures → `RetryableDelivery` (a bad URL scheme: permanent);
- ``Retry-After`` as seconds, whether given as a number or an HTTP date;
- the status and error code of an answer are for each provider module to judge.

Messages name the provider and the call, never a credential, a signature or a request body.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from adapters.edge.http import Json, json_body, retry_after, send

__all__ = ["Json", "json_body", "make_client", "post", "retry_after"]


def make_client(base_url: str, timeout: timedelta) -> httpx.AsyncClient:
    """The notifier's client; nothing connects until the first send."""
    return httpx.AsyncClient(
        base_url=base_url, timeout=timeout.total_seconds(), follow_redirects=False
    )


async def post(client: httpx.AsyncClient, what: str, url: str, **kwargs: Any) -> httpx.Response:
    """POST, with timeouts and connection failures raised as `RetryableDelivery`."""
    return await send(client, "POST", url, what, **kwargs)
