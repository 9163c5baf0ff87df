"""What chat adapters call with inbound events: the dispatcher implements `InboundHandler`."""

from __future__ import annotations

from typing import Protocol

from bot.model import CardActionRequest, CommandRequest, Reply


class InboundHandler(Protocol):
    async def command(self, request: CommandRequest) -> Reply:
        """Verify-free entry: the adapter has already checked the platform's signature."""
        ...

    async def action(self, request: CardActionRequest) -> Reply: ...
