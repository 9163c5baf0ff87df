"""Twilio's webhooks, translated for the core's `PhoneEvents`:

- ``POST …/<name>/sms/status`` — a message's status callback → a `DeliveryReport`;
- ``POST …/<name>/sms/inbound`` — an SMS to the sending number (the number's incoming-message
  webhook, set in Twilio's console) → a `PhoneReply`, answered with ``<Message>``;
- ``POST …/<name>/voice/status`` — a call's ``completed`` callback → a `DeliveryReport`;
- ``POST …/<name>/voice/gather`` — the key pressed in a call (the ``<Gather action>``) → a
  `PhoneReply`, answered with ``<Say>`` and ``<Hangup/>``.

Every request is checked before anything is read from it: POST only (405), a body within
`MAX_BODY` (413), and ``X-Twilio-Signature`` over ``public_url`` + the route's path + the query
(403) — Twilio signs the address it called, so the check holds behind a proxy. What the core
is told is stored before the answer; when it cannot be (`DatabaseUnavailable`) the answer is
503 and Twilio's retry, where it makes one, lands later.

Statuses that say nothing new (``queued``, ``sending``, ``accepted``, ``ringing``,
``in-progress``…) are acknowledged and not handed on: the send was recorded as sent already.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.notify import twilio_twiml as twiml
from adapters.notify.callbacks import path
from adapters.notify.twilio_sign import HEADER, valid
from bot.clock import Clock
from bot.errors import DatabaseUnavailable, PayloadTooLarge
from bot.paging.events import PhoneEvents
from bot.ports import DeliveryReport, DeliveryStatus, PhoneReply
from bot.web.body import read_body

MAX_BODY = 64 * 1024
"""Bytes a callback's form may have (Twilio's are well under 4 KiB)."""
RETRY_AFTER = "30"
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]
MESSAGE_STATUS: dict[str, DeliveryStatus] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
"""Twilio's ``MessageStatus`` in Tocsin's words; any other status is not handed on."""
CALL_STATUS: dict[str, DeliveryStatus] = {
    "completed": "delivered",
    "busy": "busy",
    "no-answer": "no_answer",
    "failed": "failed",
    "canceled": "failed",
}
"""Twilio's ``CallStatus`` once a call ended (``completed``: someone picked up)."""
XML = "text/xml"

Form = dict[str, str]
Handler = Callable[[Form, QueryParams], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Hooks:
    """What one Twilio provider's routes need: its name (in the paths and the reports), the
    address Twilio calls (`public_url`), the auth token that signs, the clock and the core."""

    name: str
    public_url: str
    token: str
    clock: Clock
    events: PhoneEvents

    def url(self, channel: str, event: str) -> str:
        """The public address of a route, as Twilio is given it."""
        return self.public_url.rstrip("/") + path(self.name, channel, event)


def sms_routes(hooks: Hooks, *, replies: bool) -> list[Route]:
    """The status callback, and the inbound SMS webhook when replies are taken."""

    async def status(form: Form, _: QueryParams) -> Response:
        sid = form.get("MessageSid") or form.get("SmsSid", "")
        word = form.get("MessageStatus") or form.get("SmsStatus", "")
        mapped = MESSAGE_STATUS.get(word)
        if not sid:
            return _error(400, "MessageSid is missing")
        if mapped is not None:
            detail = form.get("ErrorCode") or word
            at = hooks.clock.now()
            await hooks.events.receipts([DeliveryReport(hooks.name, sid, mapped, at, detail)])
        return Response(status_code=204)

    async def inbound(form: Form, _: QueryParams) -> Response:
        number, sid = form.get("From", ""), form.get("MessageSid") or form.get("SmsSid", "")
        if not number or not sid:
            return _error(400, "From and MessageSid are required")
        reply = PhoneReply(hooks.name, "sms", number, form.get("Body", ""), sid, hooks.clock.now())
        answer = await hooks.events.reply(reply)
        return Response(twiml.message(answer.text), media_type=XML)

    routes = [_route(hooks, "sms", "status", status)]
    return routes + ([_route(hooks, "sms", "inbound", inbound)] if replies else [])


def voice_routes(
    hooks: Hooks, *, keypress: bool, voices: Mapping[Literal["zh", "en"], str]
) -> list[Route]:
    """The call's status callback, and the ``<Gather>`` action when keys are taken."""

    async def status(form: Form, _: QueryParams) -> Response:
        sid, word = form.get("CallSid", ""), form.get("CallStatus", "")
        if not sid:
            return _error(400, "CallSid is missing")
        mapped = CALL_STATUS.get(word)
        if mapped is not None:
            at = hooks.clock.now()
            await hooks.events.receipts([DeliveryReport(hooks.name, sid, mapped, at, word)])
        return Response(status_code=204)

    async def pressed(form: Form, query: QueryParams) -> Response:
        sid, number = form.get("CallSid", ""), form.get("To", "")
        if not sid or not number:
            return _error(400, "CallSid and To are required")
        reply = PhoneReply(
            hooks.name, "voice", number, form.get("Digits", ""), sid, hooks.clock.now()
        )
        answer = await hooks.events.reply(reply)
        lang = query.get("lang") or answer.lang
        return Response(twiml.say_and_hang_up(answer.text, lang, voices), media_type=XML)

    routes = [_route(hooks, "voice", "status", status)]
    return routes + ([_route(hooks, "voice", "gather", pressed)] if keypress else [])


def _route(hooks: Hooks, channel: str, event: str, handle: Handler) -> Route:
    signed_url = hooks.url(channel, event)

    async def endpoint(request: Request) -> Response:
        if request.method != "POST":
            return _error(405, "use POST", {"Allow": "POST"})
        try:
            body = await read_body(request, MAX_BODY)
        except PayloadTooLarge as exc:
            return _error(exc.status_code, str(exc))
        try:
            params = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return _error(400, "the form is not UTF-8")
        query = request.url.query
        url = f"{signed_url}?{query}" if query else signed_url
        given = request.headers.get(HEADER)
        if not given:
            return _error(403, f"{HEADER} is missing")
        if not valid(hooks.token, url, params, given):
            return _error(
                403,
                f"{HEADER} does not match (signed with another auth token, or for another "
                "address than tocsin.public_url)",
            )
        try:
            return await handle(dict(params), request.query_params)
        except DatabaseUnavailable:
            return _error(503, "database unavailable, retry later", {"Retry-After": RETRY_AFTER})

    return Route(path(hooks.name, channel, event), endpoint, methods=METHODS)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
