"""The chat platform port: how the core posts and updates cards and text on DingTalk, WeCom,
Feishu, Slack or the console.

What a platform can do is declared as data (`ChatCapabilities`) that the core reads before
rendering, never discovered by trying.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bot.model import Card, Destination


@dataclass(frozen=True, slots=True)
class ChatCapabilities:
    buttons: bool = True
    """Buttons call back to Tocsin. When False, buttons become signed action links."""
    update_in_place: bool = True
    direct_messages: bool = True
    rate_per_second: float = 1.0
    burst: int = 5


@dataclass(frozen=True, slots=True)
class PostedRef:
    """Where a posted message lives on its platform, enough to update it in place."""

    data: dict[str, Any]


class ChatPlatform(Protocol):
    """One chat platform. Methods raise `RetryableDelivery` / `PermanentDelivery` on failure."""

    name: str
    capabilities: ChatCapabilities

    async def post_card(self, dest: Destination, card: Card, *, lang: str) -> PostedRef: ...

    async def update_card(
        self, dest: Destination, ref: PostedRef, card: Card, *, lang: str
    ) -> PostedRef: ...

    async def post_text(
        self, dest: Destination, text: str, *, reply_to: PostedRef | None
    ) -> None: ...
