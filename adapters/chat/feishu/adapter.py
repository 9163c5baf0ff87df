"""`FeishuAdapter`: what the composition root gets for the ``feishu:`` section.

- `platforms` — the outbound `FeishuPlatform` (cards, updates, texts, direct messages);
- `routes(inbound)` — webhook mode's ``POST /feishu/events``; nothing on the long connection;
- `run(inbound)` — the long connection, kept until cancelled; returns at once in webhook mode;
- `connected` — whether the long connection is up (None in webhook mode, which keeps none);
- `inbox(inbound)` — the callbacks of both modes; it registers with `inbound` how this replica
  takes over Feishu requests stored by a process that stopped before finishing them.

Nothing connects at construction: the Open API client fetches its tenant token on first use.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.routing import BaseRoute

from adapters.chat.feishu.ids import BotIdentity
from adapters.chat.feishu.inbox import Inbox
from adapters.chat.feishu.long_connection import LongConnection
from adapters.chat.feishu.memory import CardMemory
from adapters.chat.feishu.openapi import FeishuApi, open_client
from adapters.chat.feishu.platform import NAME, FeishuPlatform
from adapters.chat.feishu.settings import FeishuSettings
from adapters.chat.feishu.verify import RequestVerifier
from adapters.chat.feishu.webhook import EventsEndpoint
from adapters.chat.work import Work
from bot.clock import Clock
from bot.inbound import InboundHandler
from bot.ports import ChatCapabilities
from bot.replay import Replays


class FeishuAdapter:
    def __init__(
        self,
        settings: FeishuSettings,
        *,
        clock: Clock,
        replays: Replays,
        identities: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.replays = replays
        """Signed requests already accepted, shared by every replica."""
        self.identities = dict(identities or {})
        self.api = FeishuApi(open_client(settings))
        self.memory = CardMemory()
        self.platform = FeishuPlatform(
            self.api,
            ChatCapabilities(
                buttons=True,
                update_in_place=True,
                direct_messages=True,
                rate_per_second=settings.rate_per_second,
                burst=settings.burst,
            ),
            identities=self.identities,
            memory=self.memory,
        )
        self.bot = BotIdentity(self.api, clock)
        self.work = Work("feishu")
        """What runs after Feishu has been answered (the core's work and the replies)."""
        self.connection: LongConnection | None = None
        self.endpoint: EventsEndpoint | None = None
        self._inbox: Inbox | None = None

    @property
    def platforms(self) -> list[FeishuPlatform]:
        return [self.platform]

    @property
    def connected(self) -> bool | None:
        """Long connection: whether it is up; webhook mode keeps none (None)."""
        if self.settings.mode != "long_connection":
            return None
        return self.connection is not None and self.connection.connected

    def inbox(self, inbound: InboundHandler) -> Inbox:
        """The inbox whose callbacks call `inbound`; it takes over, on this replica, the Feishu
        requests `inbound` stored and another process left unfinished."""
        if self._inbox is None or self._inbox.inbound is not inbound:
            self._inbox = Inbox(
                inbound,
                self.api,
                self.memory,
                self.bot,
                self.clock,
                self.work,
                known=set(self.identities.values()),
                bot_names=self.settings.bot_names,
                answer_within=self.settings.answer_within,
            )
            inbound.on_resume(NAME, self._inbox.resume)
        return self._inbox

    def routes(self, inbound: InboundHandler) -> list[BaseRoute]:
        settings = self.settings
        if settings.mode != "webhook" or not settings.encrypt_key:
            return []
        if settings.verification_token is None:
            return []
        key = settings.encrypt_key.get_secret_value()
        token = settings.verification_token.get_secret_value()
        inbox = self.inbox(inbound)
        self.endpoint = EventsEndpoint(
            inbox,
            RequestVerifier(key, token, self.clock, settings.replay_window, self.replays),
            inbox.dispatcher(encrypt_key=key, verification_token=token),
        )
        return self.endpoint.routes()

    async def run(self, inbound: InboundHandler) -> None:
        if self.settings.mode != "long_connection":
            return
        inbox = self.inbox(inbound)
        inbox.attach()
        self.connection = LongConnection(
            app_id=self.settings.app_id,
            app_secret=self.settings.app_secret.get_secret_value(),
            domain=self.settings.base_url,
            dispatcher=inbox.dispatcher,
            restart_delay=self.settings.restart_delay,
        )
        try:
            await self.connection.run()
        finally:
            await self.work.aclose()

    async def idle(self) -> None:
        """Wait until every event received so far has been handled and answered."""
        if self._inbox is not None:
            await self._inbox.idle()
        await self.work.idle()

    async def aclose(self) -> None:
        """Stop inbound work still running (webhook mode has no `run` loop to do it)."""
        await self.work.aclose()
        if self.endpoint is not None:
            self.endpoint.close()
