"""What DingTalk is told while acknowledging, and what happens after: the core's work, then the
answer.

`Replies.message` and `Replies.card_action` are awaited while acknowledging (Stream handlers,
the HTTP callback). They translate, store the request and its route in the core's inbox
(`InboundHandler.accept`), start the slow part on `Work` and return. DingTalk is told OK only
after the request is stored: when storing fails they raise `NotStored` and the caller answers a
failure, so DingTalk delivers the request again. A request stored before (a re-delivery) is
handled as if it were new; the core's de-duplication makes it a no-op.

The route is the request's `Where` (`pack`ed) plus its kind (``message`` or ``press``): the
group, the sender, the session webhook and its expiry, the card's outTrackId and the button's
label. With it any replica can answer: when the process that stored a request stops before
finishing it, the core hands it, after a lease, to `resume` on some replica, which does the same
slow part as for a fresh request.

The slow part calls the core and answers:

- a message: in its chat, through the message's session webhook while it lasts (and only when
  it lives on ``oapi_url``), else the robot API. A private answer to a group message goes to the
  sender's own chat with the robot (DingTalk has no messages visible to one group member);
- a button press: the presser's private card data (``notice``, seen by them only, right on the
  card) becomes the answer; a public answer is also said in the chat. The acknowledgement itself
  already set the presser's ``notice`` to ``⏳ <button>``. Updating the card for everyone is
  the outbox's job.

A re-delivered press (the core says ``duplicate``) puts back the presser's last answer, which
the re-delivery's acknowledgement had replaced. That memory is this process's own: a
re-delivery that reaches another replica (or comes after a restart) clears the ``⏳`` and leaves
the notice empty, a neutral state. The answer itself is not stored anywhere to restore it, and
the card's public data, which the outbox keeps current, shows what the press did.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from adapters.chat.dingtalk import translate
from adapters.chat.dingtalk.openapi import OpenApi, RobotMessage
from adapters.chat.dingtalk.platform import DingTalkPlatform, Space
from adapters.chat.dingtalk.render import MAX_TEXT, cut, markdown, summary
from adapters.chat.dingtalk.translate import Where
from adapters.chat.work import Work
from bot.clock import Clock
from bot.errors import DeliveryError
from bot.inbound import InboundHandler
from bot.inbox import Request
from bot.inbox.codec import pack, unpack
from bot.model import CardActionRequest, CommandRequest, Reply

log = structlog.get_logger(__name__)

PENDING = "⏳"
MAX_NOTICES = 10_000
MESSAGE, PRESS = "message", "press"
"""A route's ``kind``: how a taken-over request is answered."""


class NotStored(Exception):
    """The request could not be stored in the inbox: DingTalk must not be told OK."""


class Replies:
    def __init__(
        self,
        inbound: InboundHandler,
        platform: DingTalkPlatform,
        clock: Clock,
        work: Work,
        *,
        oapi_url: str,
        bot_names: Sequence[str],
    ) -> None:
        self.inbound, self.platform, self.clock, self.work = inbound, platform, clock, work
        self.oapi_url, self.bot_names = oapi_url.rstrip("/") + "/", tuple(bot_names)
        self._notices: OrderedDict[tuple[str, str], str] = OrderedDict()

    @property
    def api(self) -> OpenApi:
        return self.platform.api

    # -- called while acknowledging -----------------------------------------------------------

    async def message(self, data: object) -> None:
        """Store and start handling a robot message; `Malformed` when it cannot be read,
        `NotStored` when it cannot be stored."""
        found = translate.bot_message(data, self.clock.now(), bot_names=self.bot_names)
        if found is None:
            return
        request, where = found
        log.info(  # the chat's id, to put in routes: dingtalk:<conversation>
            "dingtalk: message", conversation=where.group or None, user=where.user
        )
        await self._accept(request, where, MESSAGE)
        self.work.spawn(self._command(request, where), name=request.event_id)

    async def card_action(self, data: object, message_id: str) -> dict[str, Any]:
        """Store and start handling a button press; the acknowledgement's response (the
        presser's private data). `Malformed` when the callback cannot be read, `NotStored` when
        it cannot be stored."""
        found = translate.card_action(data, message_id, self.clock.now())
        if found is None:
            log.info("dingtalk: ignored a press on a card Tocsin did not make")
            return {}
        request, where = found
        await self._accept(request, where, PRESS)
        self.work.spawn(self._action(request, where), name=request.event_id)
        pending = f"{PENDING} {where.label}".strip()
        return {
            "cardUpdateOptions": {"updatePrivateDataByKey": True},
            "userPrivateData": {"cardParamMap": {"notice": pending}},
        }

    async def _accept(self, request: Request, where: Where, kind: str) -> None:
        try:
            await self.inbound.accept(request, pack(where) | {"kind": kind})
        except Exception as exc:
            log.warning(
                "dingtalk: could not store a request; DingTalk will deliver it again",
                event_id=request.event_id,
                error=repr(exc),
            )
            raise NotStored(type(exc).__name__) from exc  # the details stay in the log

    # -- called by the core for a request another process did not finish ----------------------

    async def resume(self, request: Request, route: dict[str, Any]) -> None:
        """Handle and answer `request` through its stored `route`, on `Work`; returns at once."""
        where, kind = unpack(Where, route), route.get("kind")
        name = f"resume:{request.event_id}"
        if kind == MESSAGE and isinstance(request, CommandRequest):
            self.work.spawn(self._command(request, where), name=name)
        elif kind == PRESS and isinstance(request, CardActionRequest):
            self.work.spawn(self._action(request, where), name=name)
        else:  # not a route this adapter stores: carry the request out, nowhere to answer
            log.error("dingtalk: a stored request with an unknown route", kind=kind, name=name)
            self.work.spawn(self._unanswered(request), name=name)

    # -- the work after the acknowledgement --------------------------------------------------

    async def _command(self, request: CommandRequest, where: Where) -> None:
        reply = await self.inbound.command(request)
        if _silent(reply):
            return
        try:
            await self._answer_message(reply, where)
        except DeliveryError as exc:
            log.warning("dingtalk: could not deliver a reply", user=where.user, error=str(exc))

    async def _action(self, request: CardActionRequest, where: Where) -> None:
        reply = await self.inbound.action(request)
        key = (where.out_track_id, where.user)
        if reply.extra.get("duplicate"):
            notice = self._notices.get(key, "")
        else:
            notice = cut(reply.text.strip(), MAX_TEXT)
            self._remember(key, notice)
        try:
            await self.api.update_card(where.out_track_id, private={where.user: {"notice": notice}})
            if notice and not reply.private and not reply.extra.get("duplicate"):
                await self.platform.send(_space(where), RobotMessage.text(reply.text))
        except DeliveryError as exc:
            log.warning("dingtalk: could not answer a press", user=where.user, error=str(exc))

    async def _unanswered(self, request: Request) -> None:
        if isinstance(request, CommandRequest):
            await self.inbound.command(request)
        else:
            await self.inbound.action(request)

    async def _answer_message(self, reply: Reply, where: Where) -> None:
        title, text = _content(reply)
        if reply.private and not where.direct:
            await self.platform.send(Space(user=where.user), _robot(title, text, reply))
            return
        if self._webhook_usable(where):
            try:
                await self.api.session_reply(where.webhook, _session(title, text, reply))
                return
            except DeliveryError as exc:
                log.info("dingtalk: session webhook failed, using the robot API", error=str(exc))
        await self.platform.send(_space(where), _robot(title, text, reply))

    def _webhook_usable(self, where: Where) -> bool:
        if not where.webhook.startswith(self.oapi_url):
            return False
        return where.webhook_expires is None or where.webhook_expires > self.clock.now()

    def _remember(self, key: tuple[str, str], notice: str) -> None:
        self._notices[key] = notice
        self._notices.move_to_end(key)
        while len(self._notices) > MAX_NOTICES:
            self._notices.popitem(last=False)


def _space(where: Where) -> Space:
    return Space(group=where.group) if where.group else Space(user=where.user)


def _content(reply: Reply) -> tuple[str, str]:
    """A reply as (title, text): its text, or its card as markdown under the text."""
    if reply.card is None:
        return "", cut(reply.text, MAX_TEXT)
    shown = markdown(reply.card)
    text = f"{reply.text.strip()}\n\n{shown}" if reply.text.strip() else shown
    return summary(reply.card), cut(text, MAX_TEXT)


def _session(title: str, text: str, reply: Reply) -> Mapping[str, Any]:
    if reply.card is None:
        return {"msgtype": "text", "text": {"content": text}}
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def _robot(title: str, text: str, reply: Reply) -> RobotMessage:
    return RobotMessage.text(text) if reply.card is None else RobotMessage.markdown(title, text)


def _silent(reply: Reply) -> bool:
    """Nothing to say: a re-delivery the core recognised, or an empty answer."""
    return bool(reply.extra.get("duplicate")) or (not reply.text.strip() and reply.card is None)
