"""`POST /api/v1/alerts/{kind}`: authenticate, parse, ingest. Bad input changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.alerts.event import AlertEvent
from bot.alerts.ingest import IngestService
from bot.errors import AuthenticationError, InputError, NotFound
from bot.metrics import Metrics
from bot.settings.schema import Source
from bot.web.body import FastJSON, read_body

log = structlog.get_logger(__name__)

Parser = Callable[[Any, str], list[AlertEvent]]
Verifier = Callable[..., None]


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

    def routes(self) -> list[Route]:
        return [Route("/api/v1/alerts/{kind}", self.handle, methods=["POST"])]

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        kind = request.path_params["kind"]
        try:
            candidates = self._candidates(request, kind)
            body = await read_body(request, self.max_body)
            source = self._authenticate(candidates, request, body)
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"body is not valid JSON: {exc}") from None
            events = self.parsers[source.kind](payload, source.name)
        except InputError as exc:
            reason = type(exc).__name__
            self.metrics.alerts_rejected.labels(reason).inc()
            log.info("alert request rejected", kind=kind, reason=reason, error=str(exc))
            return FastJSON({"error": str(exc)}, status_code=exc.status_code)
        result = await self.ingest.ingest(events)
        self.metrics.alerts_received.labels(source.name).inc(result.received)
        if result.deduplicated:
            self.metrics.alerts_deduplicated.labels(source.name).inc(result.deduplicated)
        if result.opened:
            self.metrics.incidents_opened.inc(result.opened)
        if result.unrouted:
            self.metrics.alerts_unrouted.inc(result.unrouted)
        self.metrics.ingest_seconds.labels(source.name).observe(time.perf_counter() - started)
        if result.incident_ids:
            self.on_ingested()
        return FastJSON(
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
        )

    def _candidates(self, request: Request, kind: str) -> list[Source]:
        if kind not in self.parsers:
            raise NotFound(
                f"unknown alert source kind {kind!r}; use one of {', '.join(sorted(self.parsers))}"
            )
        wanted = request.query_params.get("source")
        candidates = [
            s for s in self.sources if s.kind == kind and (wanted is None or s.name == wanted)
        ]
        if not candidates:
            named = f" named {wanted!r}" if wanted else ""
            raise NotFound(f"no alert source of kind {kind!r}{named} is configured")
        return candidates

    def _authenticate(self, candidates: list[Source], request: Request, body: bytes) -> Source:
        """The first configured source of this kind whose credentials match is the sender."""
        error: AuthenticationError | None = None
        for source in candidates:
            try:
                self.verify(source.auth, request.headers, body, now=time.time())
            except AuthenticationError as exc:
                error = error or exc
                continue
            return source
        raise error or AuthenticationError("missing credentials")
