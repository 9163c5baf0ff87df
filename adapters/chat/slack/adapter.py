"""`SlackAdapter`: what the composition root gets for the ``slack:`` section.

- `platform` — the outbound `ChatPlatform` (cards, updates, texts, direct messages);
- `routes(inbound)` — HTTP mode's ``POST /slack/events``; nothing in Socket Mode;
- `run(inbound)` — Socket Mode's connection, kept until cancelled; returns at once in HTTP mode.

Nothing connects at construction. The Bolt app is built on first use, around the core's
`InboundHandler` (the dispatcher), and the listeners' `resume` is registered with it then
(``on_resume("slack", …)``), so this replica takes over Slack requests another one accepted and
did not finish.
"""

from __future__ import annotations

from collections.abc import Mapping

from slack_bolt.async_app import AsyncApp
from starlette.routing import BaseRoute

from adapters.chat.slack.events_route import EventsEndpoint
from adapters.chat.slack.listeners import Listeners, build_app
from adapters.chat.slack.names import DisplayNames
from adapters.chat.slack.platform import NAME, SlackPlatform
from adapters.chat.slack.settings import SlackSettings
from adapters.chat.slack.socket_mode import SocketModeRunner
from adapters.chat.slack.verify import RequestVerifier
from adapters.chat.slack.web import SlackWeb, web_client
from adapters.chat.work import Work
from bot.clock import Clock
from bot.inbound import InboundHandler
from bot.ports import ChatCapabilities
from bot.replay import MemoryReplays, Replays


class SlackAdapter:
    def __init__(
        self,
        settings: SlackSettings,
        *,
        clock: Clock,
        identities: Mapping[str, str] | None = None,
        replays: Replays | None = None,
    ) -> None:
        self.settings = settings
        self.replays: Replays = replays if replays is not None else MemoryReplays()
        """Signed HTTP requests already accepted; without a shared guard, this process's only."""
        self.clock = clock
        self.client = web_client(settings)
        self.web = SlackWeb(self.client)
        self.platform = SlackPlatform(
            self.web,
            ChatCapabilities(
                buttons=True,
                update_in_place=True,
                direct_messages=True,
                rate_per_second=settings.rate_per_second,
                burst=settings.burst,
            ),
            identities=identities,
        )
        self.names = DisplayNames(self.web, clock, settings.user_cache_ttl)
        self.work = Work("slack")
        """What runs after Slack has been answered (the core's work and the replies)."""
        self.socket: SocketModeRunner | None = None
        self._app: AsyncApp | None = None
        self._inbound: InboundHandler | None = None

    @property
    def platforms(self) -> list[SlackPlatform]:
        return [self.platform]

    @property
    def connected(self) -> bool | None:
        """Socket Mode: whether the connection is up; HTTP mode keeps none (None)."""
        if self.settings.mode != "socket":
            return None
        return self.socket is not None and self.socket.connected

    def app(self, inbound: InboundHandler) -> AsyncApp:
        """The Bolt app whose listeners call `inbound` (which hands them its stored requests)."""
        if self._app is None or self._inbound is not inbound:
            listeners = Listeners(
                inbound,
                self.web,
                self.names,
                self.clock,
                self.work,
                bot_names=self.settings.bot_names,
            )
            inbound.on_resume(NAME, listeners.resume)
            self._app, self._inbound = build_app(self.client, listeners), inbound
        return self._app

    def routes(self, inbound: InboundHandler) -> list[BaseRoute]:
        app = self.app(inbound)  # in either mode: this replica may take over stored requests
        if self.settings.mode != "http" or self.settings.signing_secret is None:
            return []
        secret = self.settings.signing_secret.get_secret_value()
        return EventsEndpoint(app, RequestVerifier(secret, self.clock, self.replays)).routes()

    async def run(self, inbound: InboundHandler) -> None:
        if self.settings.mode != "socket" or self.settings.app_token is None:
            return
        self.socket = SocketModeRunner(
            self.app(inbound),
            self.settings.app_token.get_secret_value(),
            self.client,
            ping_interval=self.settings.ping_interval,
            reconnect_min=self.settings.reconnect_min,
            reconnect_max=self.settings.reconnect_max,
        )
        try:
            await self.socket.run()
        finally:
            await self.work.aclose()

    async def idle(self) -> None:
        """Wait until every inbound request received so far has been handled and answered."""
        await self.work.idle()

    async def aclose(self) -> None:
        """Stop inbound work still running (HTTP mode has no `run` loop to do it)."""
        await self.work.aclose()
