"""Feishu's events, from either transport, into the core; the answers back out.

lark-oapi's `EventDispatcherHandler` parses events and calls plain (blocking) functions: on the
long connection's own thread, or on a worker thread for the webhook. `Inbox` gives it those
functions and bridges each to the core's event loop. A callback's return is Feishu's
acknowledgement, so each first stores its request in the core's inbox (`InboundHandler.accept`,
with the `Where` to answer it as the *route*) and only then returns:

- a message (``im.message.receive_v1``) is translated, stored and handed to `Work` on the core
  loop while the callback waits (up to ``answer_within``); Feishu is acknowledged, the command
  runs, its reply follows;
- a button press (``card.action.trigger``) is stored the same way, then must be answered within
  three seconds with what to show, so the callback waits for the core's reply up to
  ``answer_within`` and answers with a toast (the reply's text, to the presser only) and the
  card. The card is the one the outbox has just shown if it got there first, else the card as
  last shown with a line saying what happened, until the outbox's update replaces it. When the
  core takes longer, Feishu gets an empty answer and the reply follows as a message to the
  presser.

When the request cannot be stored (the database is down, or storing takes longer than the
callback may wait), the callback raises `NotStored` and Feishu is not told OK. lark-oapi turns
that into a failure on both transports: its `EventDispatcherHandler.do` catches the exception and
answers HTTP 500 (``{"msg": …}``), which the webhook route passes on; its ``ws.Client`` answers
the event's frame with code 500 instead of 200. Feishu counts either as not delivered and pushes
an event again (its documentation: a long-connection event must be handled "within 3 seconds
and without raising", else it is re-pushed); a press that fails shows the presser an error, and
nothing was done. A request stored before (a re-delivery) goes on as usual: the core's
de-duplication answers it with silence.

A request stored by a process that stopped before finishing it is taken over by any replica
after its lease (`resume`, registered with `InboundHandler.on_resume`): the command runs again
and answers under its message; a press's answer can no longer go in the callback's response
(long answered or timed out), so it goes to the presser as a private message, and the card is
updated by the outbox as usual.

A reply marked private goes to the person directly (a one-to-one message); others answer under
the message they reply to. Replies the core marks as duplicates say nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import threading
from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any

import lark_oapi as lark  # type: ignore[import-untyped]
import structlog
from lark_oapi.event.callback.model.p2_card_action_trigger import (  # type: ignore[import-untyped]
    P2CardActionTriggerResponse,
)

from adapters.chat.feishu import translate
from adapters.chat.feishu.ids import BotIdentity
from adapters.chat.feishu.memory import CardMemory
from adapters.chat.feishu.openapi import FeishuApi
from adapters.chat.feishu.render import cut, post_content, render_card
from adapters.chat.feishu.translate import Where
from adapters.chat.work import Work
from bot.clock import Clock
from bot.errors import DeliveryError, TocsinError
from bot.inbound import InboundHandler
from bot.inbox import Request
from bot.inbox.codec import pack, unpack
from bot.model import CardActionRequest, CommandRequest, Reply

log = structlog.get_logger(__name__)

MAX_TOAST = 300
MARGIN = 1.0
"""Seconds the SDK's thread waits beyond ``answer_within`` for the answer to be built."""
EVENTS = frozenset({"im.message.receive_v1", "card.action.trigger"})
"""The event types Tocsin subscribes to; others are acknowledged and ignored."""
MESSAGE, PRESS = "message", "press"
"""The kinds of route stored with a request: what `resume` answers it with."""

Json = dict[str, Any]


class NotStored(TocsinError):
    """An event could not be stored: the callback raises this so Feishu is not told OK (and
    delivers it again). Its text goes into lark-oapi's JSON answer as is: no quotes."""

    retryable = True


class Inbox:
    def __init__(
        self,
        inbound: InboundHandler,
        api: FeishuApi,
        memory: CardMemory,
        bot: BotIdentity,
        clock: Clock,
        work: Work,
        *,
        known: Collection[str],
        bot_names: Sequence[str],
        answer_within: timedelta,
    ) -> None:
        self.inbound, self.api, self.memory, self.bot = inbound, api, memory, bot
        self.clock, self.work = clock, work
        self.known, self.bot_names = frozenset(known), tuple(bot_names)
        self.answer_within = answer_within.total_seconds()
        self.loop: asyncio.AbstractEventLoop | None = None
        """The core's loop: every callback's work is moved onto it (see `attach`)."""

    def dispatcher(self, *, encrypt_key: str = "", verification_token: str = "") -> Any:
        """lark-oapi's event dispatcher, calling this inbox (keys empty on the long connection,
        which Feishu neither encrypts nor signs)."""
        return (
            lark.EventDispatcherHandler.builder(encrypt_key, verification_token)
            .register_p2_im_message_receive_v1(self.on_message)
            .register_p2_card_action_trigger(self.on_card_action)
            .build()
        )

    def attach(self) -> None:
        """Take the running loop as the core's (called by each transport on that loop)."""
        self.loop = asyncio.get_running_loop()

    async def idle(self) -> None:
        """Wait until every event acknowledged so far has been handled and answered (a
        callback returns only once its work is in `Work`)."""
        await self.work.idle()

    # -- SDK callbacks: on lark-oapi's thread, never on the core loop -------------------------

    def on_message(self, data: Any) -> None:
        """Returns (Feishu's acknowledgement) once the command is stored and handed to `Work`."""
        envelope = as_dict(data)
        future = asyncio.run_coroutine_threadsafe(self.message(envelope), self._core_loop())
        try:
            future.result(timeout=self.answer_within)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError) as exc:
            future.cancel()
            raise NotStored("the message was not stored in time") from exc

    def on_card_action(self, data: Any) -> Any:
        """Returns the press's answer once it is stored; raises `NotStored` if it is not."""
        envelope = as_dict(data)
        stored = threading.Event()
        future = asyncio.run_coroutine_threadsafe(self.press(envelope, stored), self._core_loop())
        try:
            answer = future.result(timeout=self.answer_within + MARGIN)
        except NotStored:
            raise
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError) as exc:
            future.cancel()
            if not stored.is_set():
                raise NotStored("the press was not stored in time") from exc
            answer = {}
        except Exception as exc:
            if not stored.is_set():
                raise
            log.warning("feishu: answering a button press failed", error=repr(exc))
            answer = {}
        return P2CardActionTriggerResponse(answer)

    def _core_loop(self) -> asyncio.AbstractEventLoop:
        loop = self.loop
        if loop is None or loop.is_closed():
            raise RuntimeError("feishu: an event arrived while Tocsin is not running")
        return loop

    # -- on the core loop ---------------------------------------------------------------------

    async def message(self, envelope: Json) -> None:
        """A message: if it is a command for the bot, store it and start it (see `command`)."""
        found = translate.message_command(
            envelope,
            self.clock.now(),
            known=self.known,
            bot_open_id=await self._bot_open_id(envelope),
            bot_names=self.bot_names,
        )
        if found is None:
            return
        request, where = found
        # says where each chat is, for routes: ``feishu:<chat>``
        log.info("feishu: message", chat=where.chat_id, sender=request.sender.platform_user_id)
        await self._store(request, MESSAGE, where)
        self.work.spawn(self.command(request, where), name=f"feishu message {where.message_id}")

    async def command(self, request: CommandRequest, where: Where) -> None:
        """Run a stored command and answer under its message."""
        await self.answer(await self.inbound.command(request), where)

    async def press(self, envelope: Json, stored: threading.Event | None = None) -> Json:
        """A button press: stored (then `stored` is set), and the answer Feishu shows (toast and
        card), within ``answer_within``."""
        found = translate.card_action(envelope, self.clock.now(), known=self.known)
        if found is None:
            log.info("feishu: ignored a press of a button Tocsin cannot read")
            return {}
        request, where = found
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.answer_within  # storing counts against it too
        seen = self.memory.version(where.message_id)
        await self._store(request, PRESS, where)
        if stored is not None:
            stored.set()
        in_time: asyncio.Future[Reply] = loop.create_future()
        self.work.spawn(self._act(request, where, in_time), name=request.event_id)
        try:
            reply = await asyncio.wait_for(asyncio.shield(in_time), max(deadline - loop.time(), 0))
        except asyncio.CancelledError:
            in_time.cancel()  # nobody waits for the answer any more: `_act` tells the presser
            raise
        except TimeoutError:
            if in_time.cancel():  # `_act` tells the presser when the core is done
                log.info("feishu: answered a press before the core did", event_id=request.event_id)
                return {}
            reply = in_time.result()
        return self.click_answer(reply, where, seen)

    async def _act(
        self, request: CardActionRequest, where: Where, in_time: asyncio.Future[Reply]
    ) -> None:
        try:
            reply = await self.inbound.action(request)
        except asyncio.CancelledError:
            in_time.cancel()
            raise
        except Exception as exc:
            if not in_time.done():
                in_time.set_exception(exc)
            raise
        if not in_time.done():
            in_time.set_result(reply)
            return
        await self._tell_presser(reply, where)

    async def _tell_presser(self, reply: Reply, where: Where) -> None:
        """A press's reply too late for the press's answer, whose toast only the presser sees:
        tell them directly (what the chat must know, the card's update and the core's own
        messages say)."""
        await self.answer(dataclasses.replace(reply, private=True), where)

    async def _store(self, request: Request, kind: str, where: Where) -> None:
        """Store `request` with its route before Feishu is told OK; `NotStored` if it cannot be."""
        try:
            first = await self.inbound.accept(request, {"kind": kind, **pack(where)})
        except Exception as exc:
            log.warning(
                "feishu: cannot store an event; Feishu is not told OK",
                event_id=request.event_id,
                error=repr(exc),
            )
            raise NotStored("the event could not be stored") from exc
        if not first:
            log.info("feishu: an event stored before (a re-delivery)", event_id=request.event_id)

    # -- taking over ----------------------------------------------------------------------------

    async def resume(self, request: Request, route: Json) -> None:
        """Take over a request another process stored and did not finish (`on_resume`): the
        work is handed to `Work`, as for a fresh request, and this returns at once."""
        kind, name = route.get("kind"), f"feishu resumed {request.event_id}"
        try:
            where = unpack(Where, route)
        except (TypeError, ValueError):  # not a route this adapter stored: left to be given up
            where = None
        if where is not None and kind == MESSAGE and isinstance(request, CommandRequest):
            self.work.spawn(self.command(request, where), name=name)
        elif where is not None and kind == PRESS and isinstance(request, CardActionRequest):
            self.work.spawn(self._late_press(request, where), name=name)
        else:
            log.error(
                "feishu: a stored request without a route to answer it",
                event_id=request.event_id,
                kind=kind,
            )

    async def _late_press(self, request: CardActionRequest, where: Where) -> None:
        await self._tell_presser(await self.inbound.action(request), where)

    def click_answer(self, reply: Reply, where: Where, seen: int) -> Json:
        """Toast and card for a press the core answered in time."""
        if _silent(reply):
            return {}
        answer: Json = {
            "toast": {"type": _toast_type(reply), "content": cut(reply.text, MAX_TOAST)}
        }
        card = self._card_after(reply, where, seen)
        if card is not None:
            answer["card"] = {"type": "raw", "data": card}
        return answer

    def _card_after(self, reply: Reply, where: Where, seen: int) -> Json | None:
        shown = self.memory.get(where.message_id)
        if reply.card is not None:
            return render_card(reply.card, shown.lang if shown else "en")
        if shown is None or not reply.ok or reply.private:
            return None  # nothing changed (or the card is not known here): leave it as it is
        if shown.version != seen:  # the outbox showed the new state meanwhile: keep it
            return render_card(shown.card, shown.lang)
        return render_card(shown.card, shown.lang, note=reply.text)

    async def answer(self, reply: Reply, where: Where) -> None:
        """A reply as a message: privately to the person, or under the message it answers."""
        if _silent(reply):
            return
        if reply.card is not None:
            msg_type, content = "interactive", render_card(reply.card)
        else:
            msg_type, content = "post", post_content(reply.text)
        try:
            if reply.private and not where.direct:
                if not where.user:
                    log.warning("feishu: a private reply without the person's open_id")
                    return
                await self.api.create("open_id", where.user, msg_type, content)
            elif where.message_id:
                await self.api.reply(where.message_id, msg_type, content, in_thread=where.in_thread)
            else:
                await self.api.create("chat_id", where.chat_id, msg_type, content)
        except DeliveryError as exc:
            log.warning("feishu: could not deliver a reply", chat=where.chat_id, error=str(exc))

    async def _bot_open_id(self, envelope: Json) -> str | None:
        message = _message(envelope)
        if message.get("chat_type") == "p2p" or not message.get("mentions"):
            return None  # no mention to recognise
        return await self.bot.open_id()


def as_dict(data: Any) -> Json:
    """An event parsed by lark-oapi as plain JSON data (its models are untyped objects)."""
    loaded = json.loads(lark.JSON.marshal(data) or "{}")
    return loaded if isinstance(loaded, dict) else {}


def _message(envelope: Json) -> Json:
    event = envelope.get("event")
    message = event.get("message") if isinstance(event, dict) else None
    return message if isinstance(message, dict) else {}


def _silent(reply: Reply) -> bool:
    """Nothing to say: a re-delivery the core recognised, or an empty answer."""
    return bool(reply.extra.get("duplicate")) or (not reply.text.strip() and reply.card is None)


def _toast_type(reply: Reply) -> str:
    if not reply.ok:
        return "error"
    return "info" if reply.private else "success"
