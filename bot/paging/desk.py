"""`PhoneDesk`: the core's `PhoneEvents`, handed to providers' callback routes — delivery
reports to `bot.paging.receipts`, replies and keypresses to `bot.paging.replies`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.ports import Answer, DeliveryReport, PhoneReply


class _Receipts(Protocol):
    async def record(self, reports: Sequence[DeliveryReport]) -> int: ...


class _Replies(Protocol):
    async def reply(self, reply: PhoneReply) -> Answer: ...


class PhoneDesk:
    def __init__(self, receipts: _Receipts, replies: _Replies) -> None:
        self._receipts, self._replies = receipts, replies

    async def receipts(self, reports: Sequence[DeliveryReport]) -> int:
        return await self._receipts.record(reports)

    async def reply(self, reply: PhoneReply) -> Answer:
        return await self._replies.reply(reply)
