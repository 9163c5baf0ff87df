"""What the AI bot (智能机器人) does with a verified callback, and the passive reply it gives.

The bot cannot post unasked; it answers in the HTTP response to WeCom's callback (a *passive
reply*), or later once through the callback's ``response_url``. So each request runs in `Work`
for up to ``reply_within`` (WeCom waits five seconds):

- an @-mention (or a direct message) → a command; the reply is a finished stream message
  (markdown), or a ``template_card`` when the reply carries a card (``/incident show 7``). A
  private reply in a group goes to the person through the self-built app when there is one;
- a press on an AI-bot card → an action; the reply updates the card in place
  (``update_template_card``): for everyone when something changed (the new status, the buttons
  greyed out), for the presser alone when not (a refusal, "already acknowledged");
- a button that asks for confirmation (Rollback) → a confirmation card for the presser alone.

A result not ready in time is sent through ``response_url`` as markdown when it is.

A command or an action for the core is stored in the inbox with its `Route` before its passive
reply leaves (`NotStored` when it cannot be, so WeCom is not told OK). When the process stops
before finishing it, any replica takes it over (`resume`) and answers as for a late result: the
passive reply is long gone, so the card is not updated in place, the outcome goes through
``response_url``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import structlog

from adapters.chat.wecom import translate
from adapters.chat.wecom.api import WeComHttp, respond
from adapters.chat.wecom.app_inbound import silent
from adapters.chat.wecom.inbox import Route, store
from adapters.chat.wecom.memory import CardMemory
from adapters.chat.wecom.platform import NAME, WeComAppPlatform, new_task_id
from adapters.chat.wecom.render import (
    after_action,
    confirm_card,
    find_button,
    guess_language,
    template_card,
)
from adapters.chat.wecom.text import cut_bytes, plain
from adapters.chat.wecom.translate import AIBotWhere, Press
from adapters.chat.work import Work
from bot.clock import Clock
from bot.errors import DeliveryError
from bot.inbound import InboundHandler
from bot.inbox import Request
from bot.model import (
    Button,
    ButtonStyle,
    Card,
    CardActionRequest,
    CommandRequest,
    Destination,
    Reply,
    Sender,
)

log = structlog.get_logger(__name__)
Json = dict[str, Any]
MAX_STREAM = 20_480
MAX_MARKDOWN = 4096


class AIBotInbound:
    def __init__(
        self,
        inbound: InboundHandler,
        http: WeComHttp,
        memory: CardMemory,
        work: Work,
        clock: Clock,
        *,
        reply_within: timedelta,
        bot_names: Sequence[str],
        app: WeComAppPlatform | None = None,
    ) -> None:
        self.inbound, self.http, self.memory, self.work = inbound, http, memory, work
        self.clock, self.app = clock, app
        self.budget = reply_within.total_seconds()
        self.bot_names = tuple(bot_names)

    async def handle(self, data: Json) -> Json | None:
        """The passive reply (plaintext) to one decrypted callback, or None for an empty one.
        Raises `NotStored` when a command or an action could not be stored first."""
        now = self.clock.now()
        pressed = translate.aibot_press(data, now)
        if pressed is not None:
            return await self._press(*pressed)
        found = translate.aibot_command(data, now, self.bot_names)
        if found is not None:
            return await self._command(*found)
        return None

    def resume(self, request: Request, where: AIBotWhere) -> None:
        """Take over a request another process stored and did not finish (returns at once)."""
        self.work.spawn(self._resumed(request, where), name=f"{request.event_id}:resumed")

    async def _resumed(self, request: Request, where: AIBotWhere) -> None:
        if isinstance(request, CommandRequest):
            reply = await self.inbound.command(request)
        else:
            reply = await self.inbound.action(request)
        await self._late(reply, where)

    async def _store(self, request: Request, route: Route) -> float:
        """Store `request` before its passive reply; the seconds of the budget left then."""
        started = time.monotonic()
        await store(self.inbound, request, route)
        return self.budget - (time.monotonic() - started)

    # -- commands -----------------------------------------------------------------------------

    async def _command(self, request: CommandRequest, where: AIBotWhere) -> Json | None:
        async def late(reply: Reply) -> None:
            await self._late(reply, where)

        left = await self._store(request, Route.aibot(where))
        reply = await self.work.within(
            self.inbound.command(request), left, name=request.event_id, late=late
        )
        if reply is None or silent(reply):
            return None
        if reply.private and where.group and self.app is not None:
            self.work.spawn(self._privately(where.userid, reply), name=f"{request.event_id}:dm")
            return None
        if reply.card is not None:
            lang = guess_language(reply.text + reply.card.title)
            task_id = new_task_id(reply.card.ref)
            self.memory.remember(task_id, reply.card, lang)
            return {
                "msgtype": "template_card",
                "template_card": template_card(reply.card, lang, task_id),
            }
        return stream(reply.text)

    async def _privately(self, userid: str, reply: Reply) -> None:
        assert self.app is not None
        try:
            if reply.card is not None:
                await self.app.send_card(userid, reply.card, guess_language(reply.text))
            else:
                await self.app.send_text(userid, reply.text)
        except DeliveryError as exc:
            log.warning("wecom aibot: could not answer privately", error=str(exc))

    async def _late(self, reply: Reply, where: AIBotWhere) -> None:
        """The answer came after the callback was answered: through ``response_url``."""
        if silent(reply):
            return
        if reply.private and where.group and self.app is not None:
            await self._privately(where.userid, reply)
            return
        text = reply.text.strip() or (reply.card.title if reply.card else "")
        if not where.response_url:
            log.warning("wecom aibot: a late answer with no response_url to send it to")
            return
        message = {
            "msgtype": "markdown",
            "markdown": {"content": cut_bytes(plain(text), MAX_MARKDOWN)},
        }
        try:
            await respond(self.http, where.response_url, message)
        except DeliveryError as exc:
            log.warning("wecom aibot: could not send a late answer", error=str(exc))

    # -- presses ------------------------------------------------------------------------------

    async def _press(self, press: Press, where: AIBotWhere) -> Json | None:
        key = press.key
        shown = self.memory.shown(press.task_id)
        lang = shown.lang if shown else "en"
        if key.step == "noop":
            return None
        if key.step == "cancel":
            if shown is None:
                return None
            return update(template_card(shown.card, lang, press.task_id), press.user)
        assert key.action is not None
        if key.step == "ask":
            found = find_button(shown.card, key.action.value, key.value) if shown else None
            if shown is not None and found is not None:
                card, (index, button) = shown.card, found
            else:
                button = Button(key.action.value, key.action, key.value, ButtonStyle.DANGER)
                card, index = (
                    Card(key.card_ref, key.card_ref, None, "triggered", buttons=(button,)),
                    0,
                )
            return update(confirm_card(card, button, index, lang, press.task_id), press.user)
        request = CardActionRequest(
            action=key.action,
            card_ref=key.card_ref,
            value=key.value,
            sender=Sender(NAME, press.user),
            chat=Destination(translate.AIBOT_CHAT, where.chatid)
            if where.group
            else Destination(NAME, press.user),
            event_id=press.event_id,
            received_at=press.received_at,
        )

        async def late(reply: Reply) -> None:
            await self._late(reply, where)

        left = await self._store(request, Route.aibot(where, press.task_id))
        reply = await self.work.within(
            self.inbound.action(request), left, name=press.event_id, late=late
        )
        if reply is None or silent(reply):
            return None
        card = shown.card if shown else Card(key.card_ref, key.card_ref, None, "")
        if reply.private:  # nothing changed: say why to the presser, on their card only
            return update(template_card(card, lang, press.task_id, outcome=reply.text), press.user)
        done, label = after_action(card, key.action, lang)
        self.memory.remember(press.task_id, done, lang)
        template = template_card(
            done, lang, press.task_id, outcome=reply.text, closed=label, for_update=True
        )
        return update(template, None)


def stream(text: str) -> Json:
    """A finished stream message: how the bot answers a message with text (markdown)."""
    content = cut_bytes(plain(text.strip()), MAX_STREAM) or " "
    return {
        "msgtype": "stream",
        "stream": {"id": secrets.token_hex(8), "finish": True, "content": content},
    }


def update(template: Json, userid: str | None) -> Json:
    """The passive reply replacing a card (for `userid` alone, or everyone it reached)."""
    reply: Json = {"response_type": "update_template_card", "template_card": template}
    if userid is not None:
        reply["userids"] = [userid]
    return reply
