"""`POST /api/v1/alerts/{kind}`: authenticate, parse, ingest. Bad input changes nothing.

The busiest route, so it is plain ASGI in front of the app: it answers its own path and hands
every other request to the Starlette app behind it (a framework request/response cycle cost
more than the ingest itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import orjson
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.alerts.event import AlertEvent
from bot.alerts.ingest import IngestService
from bot.errors import AuthenticationError, InputError, NotFound, PayloadTooLarge
from bot.metrics import Metrics
from bot.settings.schema import Source

log = structlog.get_logger(__name__)

PREFIX = "/api/v1/alerts/"
Parser = Callable[[Any, str], list[AlertEvent]]
Verifier = Callable[..., None]


class MethodNotAllowed(InputError):
    status_code = 405


class AlertEndpoint:
    def __init__(
        self,
        sources: tuple[Source, ...],
        parsers: Mapping[str, Parser],
        verify: Verifier,
        ingest: IngestService,
        metrics: Metrics,
        max_body: int,
        on_ingested: Callable[[], None] = lambda: None,
    ) -> None:
        self.sources, self.parsers, self.verify = sources, parsers, verify
        self.ingest, self.metrics, self.max_body = ingest, metrics, max_body
        self.on_ingested = on_ingested

    def in_front_of(self, app: ASGIApp) -> ASGIApp:
        """An ASGI app serving the alert routes and passing everything else to `app`."""

        async def front(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"].startswith(PREFIX):
                await self(scope, receive, send)
            else:
                await app(scope, receive, send)

        return front

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        kind = scope["path"][len(PREFIX) :].strip("/")
        try:
            if scope["method"] != "POST":
                raise MethodNotAllowed("use POST")
            candidates = self._candidates(scope, kind)
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            body = await self._body(headers, receive)
            source = self._authenticate(candidates, headers, body)
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"body is not valid JSON: {exc}") from None
            events = self.parsers[source.kind](payload, source.name)
        except InputError as exc:
            reason = type(exc).__name__
            self.metrics.alerts_rejected.labels(reason).inc()
            log.info("alert request rejected", kind=kind, reason=reason, error=str(exc))
            await _answer(send, exc.status_code, {"error": str(exc)})
            return
        result = await self.ingest.ingest(events)
        self.metrics.alerts_received.labels(source.name).inc(result.received)
        if result.deduplicated:
            self.metrics.alerts_deduplicated.labels(source.name).inc(result.deduplicated)
        if result.opened:
            self.metrics.incidents_opened.inc(result.opened)
        if result.unrouted:
            self.metrics.alerts_unrouted.inc(result.unrouted)
        self.metrics.ingest_seconds.labels(source.name).observe(time.perf_counter() - started)
        if result.urgent:
            self.on_ingested()
        await _answer(
            send,
            200,
            {
                "received": result.received,
                "deduplicated": result.deduplicated,
                "opened": result.opened,
                "updated": result.updated,
                "resolved": result.resolved,
                "ignored": result.ignored,
                "unrouted": result.unrouted,
                "incidents": result.incident_ids,
            },
        )

    def _candidates(self, scope: Scope, kind: str) -> list[Source]:
        if kind not in self.parsers:
            known = ", ".join(sorted(self.parsers))
            raise NotFound(f"unknown alert source kind {kind!r}; use one of {known}")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        wanted = query["source"][0] if "source" in query else None
        candidates = [
            s for s in self.sources if s.kind == kind and (wanted is None or s.name == wanted)
        ]
        if not candidates:
            named = f" named {wanted!r}" if wanted else ""
            raise NotFound(f"no alert source of kind {kind!r}{named} is configured")
        return candidates

    async def _body(self, headers: dict[str, str], receive: Receive) -> bytes:
        """The body, refused past the limit (a declared length is not trusted)."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise PayloadTooLarge(
                f"body of {declared} bytes is over the limit of {self.max_body} bytes"
            )
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise InputError("the client went away before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise PayloadTooLarge(f"body is over the limit of {self.max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _authenticate(
        self, candidates: list[Source], headers: dict[str, str], body: bytes
    ) -> Source:
        """The first configured source of this kind whose credentials match is the sender."""
        error: AuthenticationError | None = None
        for source in candidates:
            try:
                self.verify(source.auth, headers, body, now=time.time())
            except AuthenticationError as exc:
                error = error or exc
                continue
            return source
        raise error or AuthenticationError("missing credentials")


async def _answer(send: Send, status: int, content: dict[str, Any]) -> None:
    body = orjson.dumps(content)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
