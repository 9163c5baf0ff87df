"""`WeComAdapter`: what the composition root gets for the ``wecom:`` section.

- `platforms` — ``wecom`` (the self-built app: interactive cards and texts to people) and
  ``wecom-robot`` (group robots: broadcasts with link buttons), each when configured;
- `routes(inbound)` — ``/wecom/callback`` (app) and ``/wecom/aibot/callback`` (AI bot); it also
  registers how this replica takes over a stored request another process left (`on_resume`);
- `run(inbound)` — returns at once: WeCom has no WebSocket mode, every callback is HTTP.

Nothing connects at construction (the httpx client connects on its first request). One
`CardMemory` is shared by the outbound and inbound sides, so the freshest ``response_code`` a
press brought is the one the next card update spends; a press taken over from another process
brings its code in its route.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import structlog
from starlette.routing import BaseRoute

from adapters.chat.wecom.aibot_inbound import AIBotInbound
from adapters.chat.wecom.api import AccessToken, AppApi, WeComHttp
from adapters.chat.wecom.app_inbound import AppInbound
from adapters.chat.wecom.crypto import WXBizMsgCrypt
from adapters.chat.wecom.inbox import AIBOT, APP, Route
from adapters.chat.wecom.memory import CardMemory
from adapters.chat.wecom.platform import (
    NAME,
    WeComAppPlatform,
    WeComRobotPlatform,
    app_capabilities,
    robot_capabilities,
)
from adapters.chat.wecom.routes import AIBotCallback, AppCallback
from adapters.chat.wecom.settings import Callback, WeComSettings
from adapters.chat.wecom.verify import CallbackGate
from adapters.chat.work import Work
from bot.clock import Clock
from bot.inbound import InboundHandler
from bot.inbox import Request
from bot.inbox.codec import unpack
from bot.model import CommandRequest
from bot.ports import ChatPlatform
from bot.replay import Replays

log = structlog.get_logger(__name__)


class WeComAdapter:
    def __init__(
        self,
        settings: WeComSettings,
        *,
        clock: Clock,
        replays: Replays,
        identities: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings, self.clock = settings, clock
        self.replays = replays
        """Signed callbacks already accepted, shared by every replica."""
        self.http = WeComHttp(
            httpx.AsyncClient(
                base_url=settings.api_url,
                timeout=settings.timeout.total_seconds(),
                transport=transport,
                follow_redirects=False,
            )
        )
        self.memory = CardMemory(clock)
        self.work = Work("wecom")
        """What runs after WeCom has been answered (the core's work and the replies)."""
        self.token: AccessToken | None = None
        self.inbound: InboundHandler | None = None
        self.app_inbound: AppInbound | None = None
        self.aibot_inbound: AIBotInbound | None = None
        """The inbound sides `routes` made, to take over stored requests (`resume`)."""
        self.app: WeComAppPlatform | None = None
        if settings.app is not None:
            self.token = AccessToken(
                self.http, clock, settings.corp_id, settings.app.secret.get_secret_value()
            )
            self.app = WeComAppPlatform(
                AppApi(self.http, self.token, settings.app.agent_id),
                self.memory,
                app_capabilities(settings.app.burst),
                identities=identities,
            )
        self.robots: WeComRobotPlatform | None = None
        if settings.robots:
            self.robots = WeComRobotPlatform(
                self.http,
                settings.robots,
                settings.api_url,
                robot_capabilities(settings.robot_burst),
            )

    @property
    def platforms(self) -> list[ChatPlatform]:
        found: list[ChatPlatform] = []
        if self.app is not None:
            found.append(self.app)
        if self.robots is not None:
            found.append(self.robots)
        return found

    def routes(self, inbound: InboundHandler) -> list[BaseRoute]:
        settings, routes = self.settings, []
        self.inbound = inbound
        if settings.app is not None and self.app is not None:
            self.app_inbound = AppInbound(
                inbound, self.app, self.memory, self.work, self.clock, bot_names=settings.bot_names
            )
            gate = self._gate(settings.app, settings.corp_id, scope="app")
            routes += AppCallback(gate, self.app_inbound, max_body=settings.max_body_bytes).routes()
        if settings.aibot is not None:
            self.aibot_inbound = bot = AIBotInbound(
                inbound,
                self.http,
                self.memory,
                self.work,
                self.clock,
                reply_within=settings.aibot.reply_within,
                bot_names=settings.bot_names,
                app=self.app,
            )
            gate = self._gate(settings.aibot, settings.aibot.receive_id, scope="aibot")
            routes += AIBotCallback(
                gate, bot, self.clock, max_body=settings.max_body_bytes
            ).routes()
        inbound.on_resume(NAME, self.resume)
        return routes

    async def resume(self, request: Request, data: dict[str, Any]) -> None:
        """Take over a request another process stored and did not finish: the surface that took
        it handles it and answers through its stored route (returns at once)."""
        try:
            route = unpack(Route, data)
        except (TypeError, ValueError) as exc:
            log.error("wecom: a stored route that cannot be read", route=data, error=str(exc))
            route = Route("", "")
        if route.surface == APP and self.app_inbound is not None:
            self.app_inbound.resume(request, route)
        elif route.surface == AIBOT and self.aibot_inbound is not None:
            self.aibot_inbound.resume(request, route.where())
        else:  # that surface is not configured here: carry it out, its answer has nowhere to go
            log.warning("wecom: no way to answer a taken-over request", surface=route.surface)
            self.work.spawn(self._carry_out(request), name=f"{request.event_id}:resumed")

    async def _carry_out(self, request: Request) -> None:
        assert self.inbound is not None
        if isinstance(request, CommandRequest):
            await self.inbound.command(request)
        else:
            await self.inbound.action(request)

    async def run(self, inbound: InboundHandler) -> None:
        """WeCom calls back over HTTP only: nothing to keep connected."""
        return

    async def idle(self) -> None:
        """Wait until every callback received so far has been handled and answered."""
        await self.work.idle()

    async def aclose(self) -> None:
        """Stop work still running after an answer, and close the HTTP client."""
        await self.work.aclose()
        await self.http.aclose()

    def _gate(self, callback: Callback, receive_id: str, *, scope: str) -> CallbackGate:
        crypt = WXBizMsgCrypt(
            callback.token.get_secret_value(),
            callback.encoding_aes_key.get_secret_value(),
            receive_id,
        )
        return CallbackGate(
            crypt, self.clock, self.settings.callback_window, self.replays, scope=scope
        )
