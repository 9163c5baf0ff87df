"""`DingTalkAdapter`: what the composition root gets for the ``dingtalk:`` section.

- `platforms` — the app robot (``dingtalk``: interactive cards, texts, direct messages) and the
  custom group robots (``dingtalk-robot``: outbound only, link buttons), whichever are configured;
- `routes(inbound)` — HTTP mode's ``POST /dingtalk/callback``; nothing in Stream mode. With an
  app robot it also registers, in either mode, how this replica takes over DingTalk requests
  another process stored and did not finish (``inbound.on_resume``);
- `run(inbound)` — the Stream connection (robot messages in Stream mode, card button presses
  whenever a card template is configured), kept until cancelled; returns at once without one;
- `connected` — the Stream connection's health for /readyz and the metrics.

Nothing connects at construction.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from starlette.routing import BaseRoute

from adapters.chat.dingtalk.callback_route import CallbackEndpoint
from adapters.chat.dingtalk.handlers import CARD_TOPIC, MESSAGE_TOPIC, CardHandler, MessageHandler
from adapters.chat.dingtalk.openapi import OpenApi
from adapters.chat.dingtalk.platform import NAME, DingTalkPlatform, app_capabilities
from adapters.chat.dingtalk.replies import Replies
from adapters.chat.dingtalk.robot import RobotPlatform, robot_capabilities
from adapters.chat.dingtalk.settings import DingTalkSettings
from adapters.chat.dingtalk.signing import CallbackVerifier
from adapters.chat.dingtalk.stream import StreamClient, StreamRunner
from adapters.chat.work import Work
from bot.clock import Clock
from bot.inbound import InboundHandler
from bot.ports import ChatPlatform
from bot.replay import Replays


class DingTalkAdapter:
    def __init__(
        self,
        settings: DingTalkSettings,
        *,
        clock: Clock,
        replays: Replays,
        identities: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.replays = replays
        """Signed callbacks already accepted, shared by every replica."""
        self.http = httpx.AsyncClient(timeout=settings.timeout.total_seconds())
        self.api = OpenApi(settings, clock, self.http)
        self.platform: DingTalkPlatform | None = None
        if settings.app:
            self.platform = DingTalkPlatform(
                self.api, app_capabilities(settings), identities=identities
            )
        self.robot: RobotPlatform | None = None
        if settings.robots:
            self.robot = RobotPlatform(
                settings.robots, robot_capabilities(settings), self.http, clock
            )
        self.work = Work("dingtalk")
        """What runs after DingTalk has been answered (the core's work and the replies)."""
        self.stream: StreamRunner | None = None
        self._replies: Replies | None = None
        self._inbound: InboundHandler | None = None

    @property
    def platforms(self) -> list[ChatPlatform]:
        return [p for p in (self.platform, self.robot) if p is not None]

    @property
    def connected(self) -> bool | None:
        """Whether the Stream connection is up and answering pings. None when this
        configuration keeps no Stream connection (custom robots only, or HTTP mode without a
        card template); False before the first connection and while reconnecting."""
        if not self.settings.stream:
            return None
        return self.stream is not None and self.stream.connected

    def replies(self, inbound: InboundHandler) -> Replies:
        """The answering side around the core's `InboundHandler` (the dispatcher), registered
        with it to take over the DingTalk requests other processes left unfinished."""
        if self.platform is None:
            raise RuntimeError("dingtalk: no app robot is configured")
        if self._replies is None or self._inbound is not inbound:
            self._replies = Replies(
                inbound,
                self.platform,
                self.clock,
                self.work,
                oapi_url=self.settings.oapi_url,
                bot_names=self.settings.bot_names,
            )
            self._inbound = inbound
            inbound.on_resume(NAME, self._replies.resume)
        return self._replies

    def routes(self, inbound: InboundHandler) -> list[BaseRoute]:
        if not self.settings.app:
            return []
        replies = self.replies(inbound)  # takes over stored requests from now on, in any mode
        if self.settings.mode != "http":
            return []
        verifier = CallbackVerifier(
            self.settings.secret, self.clock, self.settings.callback_window, self.replays
        )
        return CallbackEndpoint(replies, verifier).routes()

    async def run(self, inbound: InboundHandler) -> None:
        if not self.settings.stream:
            return
        settings, replies = self.settings, self.replies(inbound)
        client = StreamClient(settings.client_id or "", settings.secret, local_ip=settings.local_ip)
        if settings.mode == "stream":
            client.register_callback_handler(MESSAGE_TOPIC, MessageHandler(replies))
        if settings.card_template_id is not None:
            client.register_callback_handler(CARD_TOPIC, CardHandler(replies))
        self.stream = StreamRunner(
            client,
            open_url=settings.open_url,
            open_timeout=settings.open_timeout,
            ping_interval=settings.ping_interval,
            liveness_timeout=settings.liveness_timeout,
            reconnect_min=settings.reconnect_min,
            reconnect_max=settings.reconnect_max,
        )
        try:
            await self.stream.run()
        finally:
            await self.work.aclose()

    async def idle(self) -> None:
        """Wait until every inbound request received so far has been handled and answered."""
        await self.work.idle()

    async def aclose(self) -> None:
        """Stop inbound work still running, then close the HTTP client."""
        await self.work.aclose()
        await self.http.aclose()
