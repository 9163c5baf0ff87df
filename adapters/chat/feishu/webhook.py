"""Webhook mode: ``POST /feishu/events``, one URL for events and card callbacks.

The edge reads the body (bounded: 413), verifies it (`RequestVerifier`: a malformed request gets
400; an unencrypted, forged, stale, replayed or wrongly-tokened one 401, and reaches nothing),
answers Feishu's URL-verification challenge itself, acknowledges event types Tocsin does not
handle, and hands the rest to lark-oapi's dispatcher as the `RawRequest` it expects (headers in
the case it looks them up by). The dispatcher blocks until the event is stored in the core's
inbox and, for a press, answered, so it runs on a small thread pool of its own, off the core loop.

Its answer is passed on as it is. When the event could not be stored, `Inbox` raises `NotStored`
in the callback and lark-oapi's `EventDispatcherHandler.do` answers HTTP 500 (it catches every
exception of a handler): Feishu is not told OK and delivers the event again, and the request's
replay claim is released so that retry is let through, here or on another replica.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import lark_oapi as lark  # type: ignore[import-untyped]
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.chat.feishu.inbox import EVENTS, Inbox
from adapters.chat.feishu.verify import NONCE, SIGNATURE, TIMESTAMP, Rejected, RequestVerifier
from bot.errors import PayloadTooLarge
from bot.web.body import read_body

log = structlog.get_logger(__name__)

PATH = "/feishu/events"
MAX_BODY = 1_048_576
"""Feishu's events and callbacks are a few kilobytes; anything near a megabyte is not Feishu's."""
SDK_HEADERS = {
    TIMESTAMP: "X-Lark-Request-Timestamp",
    NONCE: "X-Lark-Request-Nonce",
    SIGNATURE: "X-Lark-Signature",
}
WORKERS = 8


class EventsEndpoint:
    def __init__(
        self,
        inbox: Inbox,
        verifier: RequestVerifier,
        dispatcher: Any,
        *,
        max_body: int = MAX_BODY,
    ) -> None:
        self.inbox, self.verifier, self.dispatcher = inbox, verifier, dispatcher
        self.max_body = max_body
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="feishu-webhook")

    def routes(self) -> list[BaseRoute]:
        return [Route(PATH, self.handle, methods=["POST"])]

    async def handle(self, request: Request) -> Response:
        try:
            body = await read_body(request, self.max_body)
        except PayloadTooLarge:
            return _error(413, "request body too large")
        try:
            verified = await self.verifier.verify(body, request.headers)
        except Rejected as rejected:
            log.info(
                "feishu: refused a webhook request", status=rejected.status, reason=rejected.reason
            )
            return _error(rejected.status, rejected.reason)
        if verified.challenge is not None:
            return JSONResponse({"challenge": verified.challenge})
        header = verified.envelope.get("header")
        event_type = header.get("event_type") if isinstance(header, dict) else None
        if event_type not in EVENTS:
            return JSONResponse({"msg": "ignored"})
        self.inbox.attach()
        try:
            answer = await asyncio.get_running_loop().run_in_executor(
                self.pool, self.dispatcher.do, _raw_request(request, body)
            )
        except BaseException:
            await self.verifier.release(verified.claim)
            raise
        status = int(answer.status_code or 500)
        if status >= 300:
            await self.verifier.release(verified.claim)
        return Response(answer.content or b"", status_code=status, media_type="application/json")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _raw_request(request: Request, body: bytes) -> Any:
    raw = lark.RawRequest()
    raw.uri = request.url.path
    raw.body = body
    raw.headers = {
        sdk: request.headers[name] for name, sdk in SDK_HEADERS.items() if name in request.headers
    }
    return raw


def _error(status: int, message: str) -> Response:
    return JSONResponse({"msg": message}, status_code=status)
