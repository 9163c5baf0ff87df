"""HTTP mode: ``POST /slack/events``, one URL for the Events API, slash commands and buttons.

The edge reads the body (bounded), verifies it (`RequestVerifier`: a forged, stale or replayed
request gets 401 and reaches nothing), then translates it into Bolt's request and back, as Bolt's
own Starlette adapter does. Bolt answers ``url_verification`` challenges and ``ssl_check``.

Slack takes the HTTP answer as the acknowledgement. It is sent only once Bolt's dispatch has
returned, and with ``process_before_response=True`` that is after the listener has stored the
request in the inbox (`listeners`). When storing fails the listener raises, Bolt answers 500 and
so does this route: the signature is released and Slack retries an event (with its own back-off;
a press or a slash command is not retried by Slack, the person sees it fail and tries again) —
never is a request Slack was told is taken lost.
"""

from __future__ import annotations

from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.chat.slack.verify import RequestVerifier
from bot.errors import PayloadTooLarge
from bot.web.body import read_body

PATH = "/slack/events"
MAX_BODY = 1_048_576
"""Slack's payloads are a few kilobytes; anything near a megabyte is not from Slack."""


class EventsEndpoint:
    def __init__(self, app: AsyncApp, verifier: RequestVerifier, *, max_body: int = MAX_BODY):
        self.app, self.verifier, self.max_body = app, verifier, max_body

    def routes(self) -> list[BaseRoute]:
        return [Route(PATH, self.handle, methods=["POST"])]

    async def handle(self, request: Request) -> Response:
        try:
            body = await read_body(request, self.max_body)
        except PayloadTooLarge:
            return PlainTextResponse("request body too large", status_code=413)
        signature = await self.verifier.verify(body, request.headers)
        if signature is None:
            return PlainTextResponse("invalid or expired Slack signature", status_code=401)
        try:
            answer = await self.app.async_dispatch(to_async_bolt_request(request, body))
        except BaseException:
            await self.verifier.release(signature)
            raise
        if answer.status >= 300:
            await self.verifier.release(signature)
        return to_starlette_response(answer)
