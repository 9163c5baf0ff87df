"""The chat adapter port: what a chat platform's adapter package hands the composition root.

A `ChatPlatform` is only the outbound half (post, update, reply). An adapter is the whole
platform: its outbound surfaces, the HTTP routes its callbacks arrive on, the connection it
keeps in WebSocket modes, and its shutdown. Each package offers a `ChatAdapterFactory` as
``create``; `bot.bootstrap` calls it only when the platform's settings section is present, so a
platform's SDK is imported only where it is used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from starlette.routing import BaseRoute

from bot.clock import Clock
from bot.inbound import InboundHandler
from bot.ports.chat import ChatPlatform
from bot.replay import Replays


class ChatAdapter(Protocol):
    @property
    def platforms(self) -> Sequence[ChatPlatform]:
        """Its outbound surfaces, each a destination prefix (e.g. an app robot that can take
        button presses, and webhook-only group robots that cannot)."""
        ...

    def routes(self, inbound: InboundHandler) -> list[BaseRoute]: ...

    async def run(self, inbound: InboundHandler) -> None:
        """Keep the platform's connection (WebSocket modes) until cancelled; else return."""
        ...

    async def aclose(self) -> None:
        """Stop work still running after an acknowledgement, and close clients."""
        ...


class ChatAdapterFactory(Protocol):
    """A chat adapter package's ``create``: the adapter for its raw settings section (raising
    `ConfigError` when it is invalid).

    `identities` maps Tocsin user ids to the platform's own, so ``<platform>:@<tocsin user>``
    reaches that person; `replays` remembers the signed callbacks already accepted, in the
    database, so that every replica refuses a replay.
    """

    def __call__(
        self,
        raw: Mapping[str, Any],
        *,
        clock: Clock,
        replays: Replays,
        identities: Mapping[str, str] | None = None,
    ) -> ChatAdapter: ...
