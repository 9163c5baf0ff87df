"""`POST /api/v1/alerts/{kind}`: authenticate, parse, ingest. Bad input changes nothing.

The busiest route, so it is plain ASGI in front of the app: it answers its own path and hands
every other request to the Starlette app behind it (a framework request/response cycle cost
more than the ingest itself).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import orjson
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.alerts.batch import Parsed, Rejected
from bot.alerts.ingest import IngestService
from bot.alerts.tagged import with_service_env
from bot.errors import AuthenticationError, InputError, NotFound
from bot.heartbeats.watchdog import Watchdogs
from bot.metrics import Metrics
from bot.settings.schema import Source
from bot.store.outage import classify
from bot.web.body import read_limited
from bot.web.unavailable import refuse

log = structlog.get_logger(__name__)

PREFIX = "/api/v1/alerts/"
Parser = Callable[[Any, str], Parsed]
Decoder = Callable[[bytes, str], Any]
"""A body and its content type to the payload a parser reads."""
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
        watchdogs: Watchdogs | None = None,
        decoders: Mapping[str, Decoder] | None = None,
    ) -> None:
        self.sources, self.parsers, self.verify = sources, parsers, verify
        self.decoders = decoders or {}
        self.ingest, self.metrics, self.max_body = ingest, metrics, max_body
        self.on_ingested = on_ingested
        self.watchdogs = watchdogs
        # per source, the Watchdog alerts that are heartbeats (most sources: none)
        self.watches = watchdogs.by_source if watchdogs is not None else {}

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
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            candidates = self._candidates(query, kind)
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            body = await self._body(headers, receive)
            source = self._authenticate(candidates, headers, body, query)
            decode = self.decoders.get(source.kind, decode_json)
            payload = decode(body, headers.get("content-type", ""))
            parsed = self.parsers[source.kind](payload, source.name)
            if parsed.rejected and not parsed.events:
                raise InputError(_refusal(parsed.rejected))
            parsed.events = with_service_env(source, parsed.events)
        except InputError as exc:
            reason = type(exc).__name__
            self.metrics.alert_requests_rejected.labels(reason).inc()
            log.info("alert request rejected", kind=kind, reason=reason, error=str(exc))
            await _answer(send, exc.status_code, {"error": str(exc)})
            return
        self._note_left_out(source.name, parsed)
        events = parsed.events
        watch = self.watches.get(source.name)
        beats: list[str] = []
        try:
            if watch is not None and self.watchdogs is not None:  # beats, never incidents
                beats, events = watch.split(events)
                await self.watchdogs.beat(beats, source.name)
            result = await self.ingest.ingest(events)
        except Exception as exc:  # nothing was stored: the ingest's writes are one transaction
            if (unavailable := classify(exc)) is None:
                raise
            outage = self.ingest.db.outage
            await refuse(send, outage, self.metrics, unavailable, what=f"alerts from {source.name}")
            return
        self.metrics.alerts_received.labels(source.name).inc(result.received)
        for refused in result.rejected:
            self.metrics.alerts_rejected.labels(source.name, refused.reason).inc()
        rejected = [r.as_json() for r in parsed.rejected + result.rejected]
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
            }
            | ({"rejected": rejected} if rejected else {})
            | ({"heartbeats": len(beats)} if watch is not None else {}),
        )

    def _note_left_out(self, source: str, parsed: Parsed) -> None:
        """Count and log, once per request, the alerts refused alone by the parser and those
        the sender truncated away (they never reached us, so only the sender can keep them)."""
        for refused in parsed.rejected:
            self.metrics.alerts_rejected.labels(source, refused.reason).inc()
        if parsed.rejected:
            log.warning(
                "malformed alerts refused, the rest stored",
                source=source,
                refused=len(parsed.rejected),
                alerts=[r.as_json() for r in parsed.rejected[:10]],
            )
        if parsed.truncated:
            self.metrics.alerts_truncated.labels(source).inc(parsed.truncated)
            log.warning(
                "the sender left alerts out of the request (Alertmanager's max_alerts)",
                source=source,
                left_out=parsed.truncated,
            )

    def _candidates(self, query: dict[str, list[str]], kind: str) -> list[Source]:
        if kind not in self.parsers:
            known = ", ".join(sorted(self.parsers))
            raise NotFound(f"unknown alert source kind {kind!r}; use one of {known}")
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
        hint = (
            " (server.max_alert_body_bytes); send fewer alerts per request (max_alerts in "
            "Alertmanager's receiver) or raise it"
        )
        return await read_limited(
            _chunks(receive), headers.get("content-length"), self.max_body, hint=hint
        )

    def _authenticate(
        self,
        candidates: list[Source],
        headers: dict[str, str],
        body: bytes,
        query: dict[str, list[str]],
    ) -> Source:
        """The first configured source of this kind whose credentials match is the sender."""
        error: AuthenticationError | None = None
        for source in candidates:
            try:
                self.verify(source.auth, headers, body, now=time.time(), query=query)
            except AuthenticationError as exc:
                error = error or exc
                continue
            return source
        raise error or AuthenticationError("missing credentials")


def decode_json(body: bytes, content_type: str) -> Any:
    """A JSON body, decoded (the decoder of every kind that names none)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"body is not valid JSON: {exc}") from None


def _refusal(rejected: list[Rejected]) -> str:
    """Why a request none of whose alerts could be taken was refused."""
    first = rejected[0].error
    return first if len(rejected) == 1 else f"{first} (and {len(rejected) - 1} more alerts)"


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


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    """A raw ASGI request body as a stream of chunks."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InputError("the client went away before sending the whole body")
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
