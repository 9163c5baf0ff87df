"""One console WebSocket conversation, translated to and from the neutral model.

Browser to server (JSON text frames)::

    {"type": "hello", "user": "alice"}               demo mode
    {"type": "hello", "token": "..."}                token mode
    {"type": "command", "text": "/ack 42", "request_id": "7"}
    {"type": "action", "message_id": 12, "action": "ack", "value": "", "card_ref": "incident:42",
     "request_id": "8"}
    {"type": "ping"}

Server to browser::

    {"type": "history", "chat": "ops", "user": {..., "language", "timezone"}, "messages": [...]}
                                                once, after hello
    {"type": "reader", "language": "zh", "timezone": "Asia/Shanghai"}   after a command changed
                                                the person's language or zone (``/lang``)
    {"type": "message", "message": {...}}      a new message (or one already shown: replace it)
    {"type": "update", "message": {...}}       a card changed: replace it in place
    {"type": "error", "text": "..."}           shown to this tab only
    {"type": "done", "request_id": "7", "ok": true}   a command or press has been handled
    {"type": "pong"}

A refused hello gets an ``error`` event, then the socket closes with a `CloseCode`. In token
mode an address or identity with too many failed sign-ins (see `throttle`) is refused before the
handshake with HTTP 429 and ``Retry-After``, or, once its hello names the user, with an ``error``
event carrying ``retry_after`` and close code 4429. A button
press is checked against the stored card: the card must be in this chat, visible to the presser,
and still carry that button, so a stale or forged press changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from adapters.chat.console.hub import TOO_SLOW as _TOO_SLOW
from adapters.chat.console.hub import ConsoleHub, Session
from adapters.chat.console.identity import ConsoleUser, Directory
from adapters.chat.console.platform import PRIVATE_PREFIX, ConsolePlatform, private_chat
from adapters.chat.console.reader import message_json, reader_json, reader_of
from bot.authz.throttle import Attempt, SignInGuard, Throttled
from bot.clock import Clock
from bot.errors import AuthenticationError, InputError, NotFound
from bot.grammar import asks_for_help
from bot.inbound import InboundHandler
from bot.model import ActionKind, Card, CardActionRequest, CommandRequest, Destination, Reply
from bot.ports import PostedRef
from bot.prefs import Reader

HELLO_TIMEOUT = 10.0
MAX_FRAME_CHARS = 16_384
MAX_COMMAND_CHARS = 2_000
HISTORY_LIMIT = 200
DEFAULT_READER = Reader("en", "UTC")
MY_CHAT = "@me"
"""What a page asks for to open the signed-in person's private chat."""

_MENTION = re.compile(r"^@tocsin\b[\s,:，：]*", re.IGNORECASE)

log = structlog.stdlib.get_logger(__name__)


class CloseCode(enum.IntEnum):
    """WebSocket close codes; the page reconnects only after `TOO_SLOW` and ordinary drops."""

    BAD_HELLO = 4400
    UNAUTHORIZED = 4401
    FORBIDDEN = 4403
    NO_SUCH_CHAT = 4404
    HELLO_TIMEOUT = 4408
    THROTTLED = 4429
    TOO_SLOW = _TOO_SLOW


class ForbiddenChat(InputError):
    """Someone else's private chat."""

    status_code = 403


def command_text(typed: str, *, direct: bool = False) -> str | None:
    """The command in what someone typed (``/ack 42``, ``@Tocsin ack 42``, and in a `direct`
    chat a bare ``help``), None for chatter."""
    stripped = _MENTION.sub("", typed, count=1).strip()
    if direct and asks_for_help(stripped):
        return "/help"
    if stripped.startswith("/"):
        return stripped
    if stripped and stripped != typed:
        return "/" + stripped
    return None


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    """What every console request needs."""

    platform: ConsolePlatform
    hub: ConsoleHub
    inbound: InboundHandler
    directory: Directory
    clock: Clock
    hello_timeout: float = HELLO_TIMEOUT
    """Seconds a new socket has to say hello before it is closed."""
    guard: SignInGuard | None = None
    """Throttles failed token sign-ins; None: no throttling (demo mode)."""
    default_reader: Reader = DEFAULT_READER
    """The configured language and time zone, for whoever (and whose chat) chose none."""

    @property
    def default_chat(self) -> str:
        return self.platform.chats[0] if self.platform.chats else MY_CHAT

    def chat_for(self, requested: str | None, user: ConsoleUser | None) -> str:
        """The chat `user` may open for `requested`; raises an `InputError` with the reason."""
        chat = requested or self.default_chat
        if chat == MY_CHAT:
            if user is None:
                raise AuthenticationError("sign in to open your private chat")
            return private_chat(user.id)
        if chat.startswith(PRIVATE_PREFIX):
            if user is None or chat[len(PRIVATE_PREFIX) :] not in user.names:
                raise ForbiddenChat("that is someone else's private chat")
            return chat
        if chat not in self.platform.chats:
            raise NotFound(f"there is no console chat {chat!r}")
        return chat


class _BadFrame(InputError):
    pass


async def _receive_object(ws: WebSocket) -> dict[str, Any] | None:
    """The next JSON object from the browser; None once it has gone."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        return None
    raw = message.get("text")
    if raw is None:
        raw = (message.get("bytes") or b"").decode("utf-8", "replace")
    if len(raw) > MAX_FRAME_CHARS:
        raise _BadFrame(f"message too large (at most {MAX_FRAME_CHARS} characters)")
    try:
        data = json.loads(raw)
    except ValueError:
        raise _BadFrame("messages must be JSON objects") from None
    if not isinstance(data, dict):
        raise _BadFrame("messages must be JSON objects")
    return data


async def _refuse(ws: WebSocket, code: CloseCode, text: str) -> None:
    with contextlib.suppress(Exception):
        await ws.send_json({"type": "error", "text": text})
        await ws.close(code)


async def _pump(ws: WebSocket, session: Session) -> None:
    """Send the session's events in order; close the socket once the hub closes the session."""
    while (event := await session.next_event()) is not None:
        await ws.send_json(event)
    await ws.close(session.close_code)


def throttled_response(exc: Throttled) -> JSONResponse:
    """The 429 a throttled sign-in gets over HTTP."""
    return JSONResponse(
        {"error": str(exc), "retry_after": exc.retry_after},
        status_code=exc.status_code,
        headers={"Retry-After": str(exc.retry_after)},
    )


async def _deny(ws: WebSocket, exc: Throttled) -> None:
    """Refuse the handshake with a 429 where the server can, else accept and close with 4429."""
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(throttled_response(exc))
        return
    await ws.accept()
    await _refuse_throttled(ws, exc)


async def _refuse_throttled(ws: WebSocket, exc: Throttled) -> None:
    with contextlib.suppress(Exception):
        await ws.send_json({"type": "error", "text": str(exc), "retry_after": exc.retry_after})
        await ws.close(CloseCode.THROTTLED)


def _address(ws: WebSocket) -> str:
    return ws.client.host if ws.client is not None else "unknown"


async def serve(ws: WebSocket, ctx: ConsoleContext) -> None:
    """Run one browser tab's conversation until it goes away."""
    guard = ctx.guard if not ctx.directory.demo else None
    if guard is not None:
        try:
            await guard.check(Attempt(_address(ws)))
        except Throttled as exc:
            await _deny(ws, exc)
            return
    await ws.accept()
    try:
        async with asyncio.timeout(ctx.hello_timeout):
            hello = await _receive_object(ws)
    except TimeoutError:
        await _refuse(ws, CloseCode.HELLO_TIMEOUT, "say hello first")
        return
    except _BadFrame as exc:
        await _refuse(ws, CloseCode.BAD_HELLO, str(exc))
        return
    if hello is None:
        return
    if hello.get("type") != "hello":
        await _refuse(ws, CloseCode.BAD_HELLO, "say hello first")
        return
    attempt = Attempt(_address(ws), ctx.directory.claimed(hello), "websocket")
    try:
        if guard is not None:
            await guard.check(attempt)
        user = ctx.directory.sign_in(hello)
        chat = ctx.chat_for(ws.query_params.get("chat"), user)
    except Throttled as exc:
        await _refuse_throttled(ws, exc)
        return
    except AuthenticationError as exc:
        if guard is not None:
            await guard.failed(attempt)
        await _refuse(ws, CloseCode.UNAUTHORIZED, str(exc))
        return
    except ForbiddenChat as exc:
        await _refuse(ws, CloseCode.FORBIDDEN, str(exc))
        return
    except NotFound as exc:
        await _refuse(ws, CloseCode.NO_SUCH_CHAT, str(exc))
        return

    session = ctx.hub.connect(chat, user.id, user.names)
    pump: asyncio.Task[None] | None = None
    try:
        found = await reader_of(ctx.platform.db, user, chat, ctx.default_reader)
        history = await ctx.platform.history(chat, user.names, limit=HISTORY_LIMIT)
        await ws.send_json(
            {
                "type": "history",
                "chat": chat,
                "user": user.to_json() | reader_json(found),
                "messages": [message_json(message, found.lang) for message in history],
            }
        )
        pump = asyncio.create_task(_pump(ws, session))
        await Conversation(ctx, session, user, chat, found).run(ws)
    finally:
        ctx.hub.disconnect(session)
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump


class Conversation:
    """The signed-in part: commands and button presses of one person in one chat."""

    def __init__(
        self,
        ctx: ConsoleContext,
        session: Session,
        user: ConsoleUser,
        chat: str,
        reader: Reader | None = None,
    ) -> None:
        self._ctx = ctx
        self._session = session
        self._user = user
        self._chat = chat
        self._dest = Destination(ctx.platform.name, chat)
        self._reader = reader or ctx.default_reader

    async def run(self, ws: WebSocket) -> None:
        while True:
            try:
                data = await _receive_object(ws)
            except _BadFrame as exc:
                self._error(str(exc))
                continue
            if data is None:
                return
            await self.handle(data)

    async def handle(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        if kind == "ping":
            self._session.send({"type": "pong"})
            return
        ok = False
        try:
            if kind == "command":
                ok = await self._command(data)
            elif kind == "action":
                ok = await self._action(data)
            else:
                raise InputError(f"unknown message type {kind!r}")
        except InputError as exc:
            self._error(str(exc))
        except Exception:
            log.exception("console.request_failed", kind=kind, chat=self._chat, user=self._user.id)
            self._error("Something went wrong; the error has been logged.")
        request_id = data.get("request_id")
        if isinstance(request_id, str | int) and not isinstance(request_id, bool):
            self._session.send({"type": "done", "request_id": request_id, "ok": ok})

    async def _command(self, data: dict[str, Any]) -> bool:
        text = data.get("text")
        if not isinstance(text, str):
            raise InputError("a command needs a text")
        text = text.strip()
        if not text:
            return True
        if len(text) > MAX_COMMAND_CHARS:
            raise InputError(f"that is too long (at most {MAX_COMMAND_CHARS} characters)")
        typed = await self._ctx.platform.post_as_user(self._chat, self._user.name, text)
        command = command_text(text, direct=self._chat.startswith(PRIVATE_PREFIX))
        if command is None:
            return True
        reply = await self._ctx.inbound.command(
            CommandRequest(
                text=command,
                sender=self._user.sender(),
                chat=self._dest,
                event_id=str(uuid.uuid4()),
                received_at=self._ctx.clock.now(),
            )
        )
        await self._deliver(reply, reply_to=typed.id)
        await self._follow_reader()
        return reply.ok

    async def _follow_reader(self) -> None:
        """Tell the pages when a command (``/lang``, ``/tz``) changed how people read: every
        open tab of this person (a phone and a desk, say), and every tab on this chat (a
        chat's own choice, ``--chat``)."""
        ctx = self._ctx
        found = await reader_of(ctx.platform.db, self._user, self._chat, ctx.default_reader)
        if found == self._reader:
            return
        self._reader = found
        self._session.send({"type": "reader"} | reader_json(found))
        for other in ctx.hub.sessions():
            if other is self._session or not (
                other.user_id == self._user.id or other.chat == self._chat
            ):
                continue
            user = ctx.directory.by_id(other.user_id)
            if user is not None:
                theirs = await reader_of(ctx.platform.db, user, other.chat, ctx.default_reader)
                other.send({"type": "reader"} | reader_json(theirs))

    async def _action(self, data: dict[str, Any]) -> bool:
        message_id = data.get("message_id")
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise InputError("a button press needs the card's message_id")
        try:
            action = ActionKind(str(data.get("action")))
        except ValueError:
            raise InputError(f"unknown action {data.get('action')!r}") from None
        value = data.get("value") or ""
        if not isinstance(value, str):
            raise InputError("a button value must be a string")
        message = await self._ctx.platform.message(message_id)
        if (
            message is None
            or message.card is None
            or message.chat != self._chat
            or not message.visible_to(self._user.names)
        ):
            raise InputError("that card is not in this chat")
        card = Card.from_json(message.card)
        claimed = data.get("card_ref")
        if claimed is not None and claimed != card.ref:
            raise InputError("that card has changed; press the button again")
        if not any(b.action is action and b.value == value for b in card.buttons):
            raise InputError("that button is no longer on the card")
        reply = await self._ctx.inbound.action(
            CardActionRequest(
                action=action,
                card_ref=card.ref,
                value=value,
                sender=self._user.sender(),
                chat=self._dest,
                event_id=str(uuid.uuid4()),
                received_at=self._ctx.clock.now(),
            )
        )
        await self._deliver(reply, reply_to=message.id)
        return reply.ok

    async def _deliver(self, reply: Reply, *, reply_to: int) -> None:
        platform = self._ctx.platform
        if reply.private:
            if reply.text:
                await platform.post_private(
                    self._chat, self._user.id, reply.text, reply_to=reply_to
                )
            if reply.card is not None:
                await platform.post_private_card(
                    self._chat, self._user.id, reply.card, lang=self._reader.lang
                )
            return
        if reply.text:
            await platform.post_text(
                self._dest, reply.text, reply_to=PostedRef({"message_id": reply_to})
            )
        if reply.card is not None:
            await platform.post_card(self._dest, reply.card, lang=self._reader.lang)

    def _error(self, text: str) -> None:
        self._session.send({"type": "error", "text": text})
