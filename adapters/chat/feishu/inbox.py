"""Feishu's events, from either transport, into the core; the answers back out.

lark-oapi's `EventDispatcherHandler` parses events and calls plain (blocking) functions: on the
long connection's own thread, or on a worker thread for the webhook. `Inbox` gives it those
functions and bridges each to the core's event loop:

- a message (``im.message.receive_v1``) is handed to the core loop and the callback returns at
  once: Feishu is acknowledged first, the command runs in `Work`, its reply follows;
- a button press (``card.action.trigger``) must be answered within three seconds with what to
  show, so the callback waits for the core's reply up to ``answer_within`` and answers with a
  toast (the reply's text, to the presser only) and the card. The card is the one the outbox has
  just shown if it got there first, else the card as last shown with a line saying what happened,
  until the outbox's update replaces it. When the core takes longer, Feishu gets an empty answer
  and the reply follows as a message to the presser.

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
from bot.errors import DeliveryError
from bot.inbound import InboundHandler
from bot.model import CardActionRequest, Reply

log = structlog.get_logger(__name__)

MAX_TOAST = 300
MARGIN = 1.0
"""Seconds the SDK's thread waits beyond ``answer_within`` for the answer to be built."""
EVENTS = frozenset({"im.message.receive_v1", "card.action.trigger"})
"""The event types Tocsin subscribes to; others are acknowledged and ignored."""

Json = dict[str, Any]


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
        self._handing_over = 0
        self._lock = threading.Lock()

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
        """Wait until every event received so far has been handled and answered."""
        while True:
            await self.work.idle()
            with self._lock:
                if not self._handing_over:
                    return
            await asyncio.sleep(0.01)

    # -- SDK callbacks: on lark-oapi's thread, never on the core loop -------------------------

    def on_message(self, data: Any) -> None:
        envelope = as_dict(data)
        loop = self._core_loop()
        with self._lock:
            self._handing_over += 1
        try:
            loop.call_soon_threadsafe(self._start_message, envelope)
        except RuntimeError:  # the core loop has closed: Tocsin is stopping
            with self._lock:
                self._handing_over -= 1
            raise

    def on_card_action(self, data: Any) -> Any:
        envelope = as_dict(data)
        future = asyncio.run_coroutine_threadsafe(self.press(envelope), self._core_loop())
        try:
            answer = future.result(timeout=self.answer_within + MARGIN)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            future.cancel()
            answer = {}
        except Exception as exc:
            log.warning("feishu: answering a button press failed", error=repr(exc))
            answer = {}
        return P2CardActionTriggerResponse(answer)

    def _core_loop(self) -> asyncio.AbstractEventLoop:
        loop = self.loop
        if loop is None or loop.is_closed():
            raise RuntimeError("feishu: an event arrived while Tocsin is not running")
        return loop

    # -- on the core loop ---------------------------------------------------------------------

    def _start_message(self, envelope: Json) -> None:
        with self._lock:
            self._handing_over -= 1
        message_id = _message(envelope).get("message_id", "")
        self.work.spawn(self.message(envelope), name=f"feishu message {message_id}")

    async def message(self, envelope: Json) -> None:
        """A message: run it as a command if it is one for the bot, then answer it."""
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
        await self.answer(await self.inbound.command(request), where)

    async def press(self, envelope: Json) -> Json:
        """A button press: the answer Feishu shows (toast and card), within ``answer_within``."""
        found = translate.card_action(envelope, self.clock.now(), known=self.known)
        if found is None:
            log.info("feishu: ignored a press of a button Tocsin cannot read")
            return {}
        request, where = found
        seen = self.memory.version(where.message_id)
        in_time: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.work.spawn(self._act(request, where, in_time), name=request.event_id)
        try:
            reply = await asyncio.wait_for(asyncio.shield(in_time), self.answer_within)
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
        # too late for the press's answer, whose toast only the presser sees: tell them directly
        # (what the chat must know, the card's update and the core's own messages say)
        await self.answer(dataclasses.replace(reply, private=True), where)

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
