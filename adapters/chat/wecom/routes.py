"""The HTTP callbacks: ``GET|POST /wecom/callback`` (self-built app) and
``GET|POST /wecom/aibot/callback`` (AI bot).

GET is WeCom's URL verification: the decrypted ``echostr`` is the answer. POST is a message or
an event: the edge reads the body (bounded), verifies and decrypts it (`CallbackGate`: a forged,
stale, replayed or undecryptable request gets a 4xx saying why and reaches nothing), then

- app: hands the message to `AppInbound`, which stores a command or a press in the inbox and
  starts its work, then answers with an empty 200;
- AI bot: answers with the encrypted passive reply `AIBotInbound` gives (within its budget),
  as ``{"encrypt", "msgsignature", "timestamp", "nonce"}``, or an empty 200.

A command or a press that could not be stored (`NotStored`) is answered 503, never 200, so
that WeCom sends it again rather than take it as delivered; its replay claim is released for
that retry.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.chat.wecom import envelope
from adapters.chat.wecom.aibot_inbound import AIBotInbound
from adapters.chat.wecom.app_inbound import AppInbound
from adapters.chat.wecom.inbox import NotStored
from adapters.chat.wecom.verify import CallbackGate
from bot.clock import Clock
from bot.errors import InputError
from bot.web.body import read_body

log = structlog.get_logger(__name__)

APP_PATH = "/wecom/callback"
AIBOT_PATH = "/wecom/aibot/callback"


class AppCallback:
    """The self-built app's callback URL."""

    def __init__(self, gate: CallbackGate, inbound: AppInbound, *, max_body: int) -> None:
        self.gate, self.inbound, self.max_body = gate, inbound, max_body

    def routes(self) -> list[BaseRoute]:
        return [Route(APP_PATH, self.handle, methods=["GET", "POST"])]

    async def handle(self, request: Request) -> Response:
        return await _guarded(request, self.gate, self.max_body, self._message)

    async def _message(self, plaintext: str) -> Response:
        await self.inbound.receive(envelope.message_fields(plaintext))
        return PlainTextResponse("")


class AIBotCallback:
    """The AI bot's callback URL: passive replies are encrypted with the bot's own key."""

    def __init__(
        self, gate: CallbackGate, inbound: AIBotInbound, clock: Clock, *, max_body: int
    ) -> None:
        self.gate, self.inbound, self.clock, self.max_body = gate, inbound, clock, max_body

    def routes(self) -> list[BaseRoute]:
        return [Route(AIBOT_PATH, self.handle, methods=["GET", "POST"])]

    async def handle(self, request: Request) -> Response:
        return await _guarded(request, self.gate, self.max_body, self._message)

    async def _message(self, plaintext: str) -> Response:
        reply = await self.inbound.handle(envelope.json_message(plaintext))
        if reply is None:
            return PlainTextResponse("")
        return JSONResponse(self.seal(json.dumps(reply, ensure_ascii=False)))

    def seal(self, plaintext: str) -> dict[str, str]:
        """A passive reply as WeCom wants it: encrypted and signed."""
        crypt = self.gate.crypt
        timestamp, nonce = str(int(self.clock.now().timestamp())), secrets.token_hex(8)
        encrypted = crypt.encrypt(plaintext)
        return {
            "encrypt": encrypted,
            "msgsignature": crypt.signature(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }


async def _guarded(
    request: Request,
    gate: CallbackGate,
    max_body: int,
    handle: Callable[[str], Awaitable[Response]],
) -> Response:
    """Verify, decrypt and hand on; bad input is answered with its status and reason."""
    query = dict(request.query_params)
    try:
        if request.method == "GET":
            return PlainTextResponse(await gate.echo(query))
        body = await read_body(request, max_body)
        plaintext, claim = await gate.open(query, envelope.ciphertext(body))
    except InputError as exc:
        log.info("wecom: callback refused", path=request.url.path, reason=str(exc))
        return PlainTextResponse(str(exc), status_code=exc.status_code)
    try:
        return await handle(plaintext)
    except InputError as exc:
        await gate.release(claim)
        log.info("wecom: callback refused", path=request.url.path, reason=str(exc))
        return PlainTextResponse(str(exc), status_code=exc.status_code)
    except NotStored as exc:
        log.warning("wecom: callback not stored, WeCom will send it again", reason=str(exc))
        try:
            await gate.release(claim)
        except Exception as again:  # the same outage, likely: the 503 matters more
            log.warning("wecom: could not release the replay claim", error=str(again))
        return PlainTextResponse("not stored, try again", status_code=exc.status_code)
    except BaseException:
        await gate.release(claim)
        raise
