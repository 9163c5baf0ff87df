"""503 while the database is unavailable: what every route answers instead of a 500.

`refuse` answers one request 503 with `Retry-After` and counts it with the outage tracker (which
logs the outage once, not per request). `DatabaseGuard` is the middleware that does it for any
route whose handler lets a database-unavailable error through.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.errors import DatabaseUnavailable
from bot.metrics import Metrics
from bot.store.outage import Outage, classify

BODY = orjson.dumps({"error": "database unavailable, retry later"})


async def refuse(
    send: Send, outage: Outage, metrics: Metrics, error: DatabaseUnavailable, *, what: str
) -> None:
    """Answer 503 for `error`, asking the sender to come back after `Retry-After` seconds."""
    retry_after = outage.refused(error, what=what)
    metrics.requests_refused.labels("database").inc()
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(BODY)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


class DatabaseGuard:
    """ASGI middleware: a request that fails because the database is unavailable is answered
    503 (when its answer has not started yet) and counted, without a traceback. Every other
    error goes on to the server's own handling."""

    def __init__(self, app: ASGIApp, outage: Outage, metrics: Metrics) -> None:
        self.app, self.outage, self.metrics = app, outage, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            error = classify(exc)
            if error is None:
                raise
            what = f"{scope['method']} {scope['path']}"
            if started:  # too late for a 503: the server closes the unfinished answer
                self.outage.refused(error, what=what)
                self.metrics.requests_refused.labels("database").inc()
                return
            await refuse(send, self.outage, self.metrics, error, what=what)
