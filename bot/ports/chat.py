"""The chat platform port: how the core posts and updates cards and text on DingTalk, WeCom,
Feishu, Slack or the console.

What a platform can do is declared as data (`ChatCapabilities`) that the core reads before
rendering, never discovered by trying.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

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


@runtime_checkable
class GroupMembers(Protocol):
    """An optional capability: a platform whose groups Tocsin can fill (a Slack user group, a
    Feishu/Lark chat). `bot.oncall.groups` checks for it with ``isinstance`` before calling.

    Ids are the platform's own (``users[].identities.<platform>``). Raises `RetryableDelivery`
    / `PermanentDelivery`; the caller retries either with back-off, since a refusal
    (``permission_denied``) is usually fixed by an administrator, not by Tocsin."""

    async def set_group_members(
        self, group: str, wanted: Sequence[str], added_before: Sequence[str]
    ) -> list[str]:
        """Make `group` hold `wanted`. `added_before` are the members this sync put there
        earlier: only those may be taken out again, never people who joined by themselves.
        Returns the members the sync now accounts for (what to pass as `added_before` next)."""
        ...
