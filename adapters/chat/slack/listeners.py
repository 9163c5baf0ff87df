"""The Bolt app: listeners that store the request, acknowledge, and hand the rest to `Work`.

Every listener translates its payload, stores the request with where to answer it
(`InboundHandler.accept`, the route being the `Where`), then calls ``ack()``, then starts the slow
part in the background: look up the sender's display name, call the core, answer.

The app runs with ``process_before_response=True``. In slack-bolt 1.30
(``slack_bolt/listener/asyncio_runner.py``, ``AsyncioListenerRunner.run``) that means the listener
is awaited to its end and only then does ``app.async_dispatch`` return the response ``ack()``
recorded: ``ack()`` itself sends nothing. So nothing reaches Slack before the listener returns,
whatever the order inside it; storing before ``ack()`` keeps the order obvious all the same. When
the listener raises, Bolt logs the error and answers status 500 (even if ``ack()`` was called), so
a request that could not be stored is never acknowledged: the HTTP route returns the 500 and
Socket Mode leaves the envelope unacknowledged (`events_route`, `socket_mode`). A request stored
before (``accept`` says False: a re-delivery) goes on as a new one; the core de-duplicates it.

A request accepted by a process that stopped before finishing it comes back after the inbox's
lease through `resume`, on any replica, and is handled and answered exactly as a fresh one.

Answers: a slash command's reply goes through its ``response_url`` (Bolt's `AsyncRespond`),
ephemeral when the reply is private, in the channel otherwise. A mention's or a button's private
reply is a ``chat.postEphemeral`` to that person; a public one a ``chat.postMessage`` in the
channel, threaded under the card for buttons. Card updates after a press are the outbox's job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from adapters.chat.slack import translate
from adapters.chat.slack.errors import NETWORK
from adapters.chat.slack.names import DisplayNames
from adapters.chat.slack.render import (
    ACTION_PREFIX,
    LINK_ACTION,
    MAX_FALLBACK,
    Message,
    mrkdwn,
    render_card,
)
from adapters.chat.slack.translate import Where
from adapters.chat.slack.web import SlackWeb
from adapters.chat.work import Work
from bot.clock import Clock
from bot.errors import ConfigError, DeliveryError
from bot.inbound import InboundHandler
from bot.inbox import Request
from bot.inbox.codec import pack, unpack
from bot.model import CardActionRequest, CommandRequest, Reply

log = structlog.get_logger(__name__)
_Request = TypeVar("_Request", CommandRequest, CardActionRequest)
BOLT_LOGGER = logging.getLogger("adapters.chat.slack.bolt")


class Listeners:
    """What Bolt calls. Listener parameters are named as Bolt injects them."""

    def __init__(
        self,
        inbound: InboundHandler,
        web: SlackWeb,
        names: DisplayNames,
        clock: Clock,
        work: Work,
        *,
        bot_names: Sequence[str],
    ) -> None:
        self.inbound, self.web, self.names = inbound, web, names
        self.clock, self.work, self.bot_names = clock, work, tuple(bot_names)

    # -- listeners (store, then acknowledge) ----------------------------------------------------

    async def command(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        request, where = translate.slash_command(body, self.clock.now())
        await self.inbound.accept(request, pack(where))
        await ack()
        self.work.spawn(self._command(request, where), name=request.event_id)

    async def mention(
        self, ack: AsyncAck, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await self._message(body, event, context)
        await ack()

    async def message(
        self, ack: AsyncAck, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if event.get("channel_type") == "im":  # channel chatter arrives as app_mention
            await self._message(body, event, context)
        await ack()

    async def button(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        if str(action.get("action_id", "")).startswith(f"{ACTION_PREFIX}{LINK_ACTION}:"):
            await ack()
            return  # a link button: the browser opens the signed action link
        found = translate.card_action(body, action, self.clock.now())
        if found is None:
            await ack()
            log.info("slack: ignored a button Tocsin cannot read", action=action.get("action_id"))
            return
        request, where = found
        await self.inbound.accept(request, pack(where))
        await ack()
        self.work.spawn(self._action(request, where), name=request.event_id)

    async def resume(self, request: Request, route: dict[str, Any]) -> None:
        """Take over a request another process accepted and did not finish (`bot.inbox`): the
        same work as for a fresh one, answered through its stored `Where`."""
        where = _where(request, route)
        if isinstance(request, CommandRequest):
            self.work.spawn(self._command(request, where), name=request.event_id)
        else:
            self.work.spawn(self._action(request, where), name=request.event_id)

    # -- the work after the acknowledgement --------------------------------------------------

    async def _message(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        found = translate.message_command(
            event,
            str(body.get("event_id") or ""),
            self.clock.now(),
            bot_user_id=context.bot_user_id,
            bot_names=self.bot_names,
        )
        if found is not None:
            request, where = found
            await self.inbound.accept(request, pack(where))
            self.work.spawn(self._command(request, where), name=request.event_id)

    async def _command(self, request: CommandRequest, where: Where) -> None:
        """A slash command (answered through its ``response_url``), a mention or a direct
        message (answered in the conversation)."""
        reply = await self.inbound.command(await self._named(request))
        if where.response_url is None:
            await self._answer(reply, where)
            return
        if _silent(reply):
            return
        message = reply_message(reply)
        respond = AsyncRespond(response_url=where.response_url)
        try:
            answer = await respond(
                text=message.text,
                blocks=message.blocks or None,
                response_type="ephemeral" if reply.private else "in_channel",
            )
        except NETWORK as exc:
            log.warning("slack: could not reach the response_url", error=repr(exc))
            return
        if answer.status_code != 200:
            log.warning("slack: response_url refused the reply", status=answer.status_code)

    async def _action(self, request: CardActionRequest, where: Where) -> None:
        reply = await self.inbound.action(await self._named(request))
        await self._answer(reply, where)

    async def _named(self, request: _Request) -> _Request:
        sender = request.sender
        name = await self.names.get(sender.platform_user_id, sender.display_name)
        return dataclasses.replace(request, sender=dataclasses.replace(sender, display_name=name))

    async def _answer(self, reply: Reply, where: Where) -> None:
        """A reply to a mention, a direct message or a button press."""
        if _silent(reply):
            return
        message = reply_message(reply)
        blocks = message.blocks or None
        try:
            if reply.private and not where.direct:
                await self.web.post_ephemeral(
                    where.channel,
                    where.user,
                    message.text,
                    blocks=blocks,
                    thread_ts=where.thread_ts if where.private_in_thread else None,
                )
            else:
                await self.web.post_message(
                    where.channel, message.text, blocks=blocks, thread_ts=where.thread_ts
                )
        except DeliveryError as exc:
            log.warning("slack: could not deliver a reply", channel=where.channel, error=str(exc))


BOLT_ENVIRONMENT = (
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_VERIFICATION_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
)
"""What `AsyncApp`'s constructor reads from the environment. With ``SLACK_CLIENT_ID`` and
``SLACK_CLIENT_SECRET`` both present (even empty) it silently turns into a multi-workspace OAuth
app that looks for installations Tocsin never stores, and every request fails."""


@contextlib.contextmanager
def _environment_hidden(names: Sequence[str]) -> Iterator[None]:
    """Hide `names` from the environment while Bolt's constructor runs (synchronously, on the
    event loop's thread: nothing else reads them meanwhile), then put them back."""
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def build_app(client: AsyncWebClient, listeners: Listeners) -> AsyncApp:
    """A single-workspace Bolt app on `client` (its bot token) with Tocsin's listeners, whatever
    the environment holds; requests are verified before it."""
    with _environment_hidden(BOLT_ENVIRONMENT):
        app = AsyncApp(
            client=client,
            name="tocsin",
            logger=BOLT_LOGGER,
            signing_secret="",
            verification_token="",
            installation_store=None,
            oauth_settings=None,
            process_before_response=True,
            request_verification_enabled=False,  # done by `RequestVerifier` with Tocsin's clock
        )
    if app.oauth_flow is not None or app.installation_store is not None:
        raise ConfigError(["slack: the Bolt app must use the bot token of one workspace"])
    app.command(re.compile(r"^/"))(listeners.command)
    app.event("app_mention")(listeners.mention)
    app.event("message")(listeners.message)
    app.action(re.compile(rf"^{re.escape(ACTION_PREFIX)}"))(listeners.button)
    return app


def reply_message(reply: Reply) -> Message:
    """A core reply as a Slack message: its text, or its card with the text as fallback."""
    text = mrkdwn(reply.text, MAX_FALLBACK)
    if reply.card is None:
        return Message(text or " ", [])
    card = render_card(reply.card)
    return Message(text or card.text, card.blocks)


def _where(request: Request, route: dict[str, Any]) -> Where:
    """The stored route; one that cannot be read answers the sender in the request's chat."""
    try:
        return unpack(Where, route)
    except TypeError as exc:
        log.warning("slack: a stored route cannot be read", route=route, error=str(exc))
        return Where(request.chat.chat, request.sender.platform_user_id)


def _silent(reply: Reply) -> bool:
    """Nothing to say: a re-delivery the core recognised, or an empty answer."""
    return bool(reply.extra.get("duplicate")) or (not reply.text.strip() and reply.card is None)
