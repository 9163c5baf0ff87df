"""What chat adapters call with inbound events: the dispatcher implements `InboundHandler`."""

from __future__ import annotations

from typing import Any, Protocol

from bot.inbox import Request, Resume
from bot.model import CardActionRequest, CommandRequest, Reply


class InboundHandler(Protocol):
    async def command(self, request: CommandRequest) -> Reply:
        """Verify-free entry: the adapter has already checked the platform's signature."""
        ...

    async def action(self, request: CardActionRequest) -> Reply: ...

    async def accept(self, request: Request, route: dict[str, Any]) -> bool:
        """Store `request` (with what the adapter needs to answer it) before the platform is
        told OK; False when it was stored before (a re-delivery). See `bot.inbox`."""
        ...

    def on_resume(self, platform: str, resume: Resume) -> None:
        """Register how this adapter takes over a stored request another process left."""
        ...
