"""HTTP mode: ``POST /dingtalk/callback``, where DingTalk delivers robot messages when the
robot's message receiving mode is HTTP.

The edge reads the body (bounded), verifies the ``timestamp``/``sign`` headers with the app secret
(`CallbackVerifier`: a forged, stale or replayed request gets 401 and reaches nothing; two
messages stamped in the same millisecond are two messages, told apart by their bodies), reads the
message (malformed: 400, nothing happens), starts the work and answers at once with an empty JSON
object (the answer itself posts nothing; replies go through the session webhook or the robot API).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.chat.dingtalk.replies import NotStored, Replies
from adapters.chat.dingtalk.signing import CallbackVerifier
from adapters.chat.dingtalk.translate import Malformed, decode
from bot.errors import PayloadTooLarge
from bot.web.body import read_body

PATH = "/dingtalk/callback"
MAX_BODY = 1_048_576
"""DingTalk's messages are a few kilobytes; anything near a megabyte is not from DingTalk."""


class CallbackEndpoint:
    def __init__(self, replies: Replies, verifier: CallbackVerifier, *, max_body: int = MAX_BODY):
        self.replies, self.verifier, self.max_body = replies, verifier, max_body

    def routes(self) -> list[BaseRoute]:
        return [Route(PATH, self.handle, methods=["POST"])]

    async def handle(self, request: Request) -> Response:
        try:
            body = await read_body(request, self.max_body)
        except PayloadTooLarge:
            return PlainTextResponse("request body too large", status_code=413)
        claim = await self.verifier.verify(request.headers, body)
        if claim is None:
            return PlainTextResponse("invalid or expired DingTalk signature", status_code=401)
        try:
            await self.replies.message(decode(body))
        except Malformed as exc:
            await self.verifier.release(claim)
            return PlainTextResponse(f"malformed robot message: {exc}", status_code=400)
        except NotStored as exc:
            await self.verifier.release(claim)
            return PlainTextResponse(f"robot message not stored, retry: {exc}", status_code=503)
        except BaseException:
            await self.verifier.release(claim)
            raise
        return JSONResponse({})
