"""Who is who on Feishu: the three ids a person has, and the bot's own.

A person has an ``open_id`` (``ou_…``, per app), a ``union_id`` (``on_…``, per developer) and a
``user_id`` (the tenant's employee id, only with the contact permission). Tocsin users may be
given any of them in ``users[].identities.feishu``; an inbound event names the sender by the first
of open_id, union_id and user_id that some Tocsin user has (else by open_id, so the refusal tells
an administrator which id to add). Outbound, the id's form says how to address it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

import structlog

from adapters.chat.feishu.openapi import FeishuApi
from bot.clock import Clock
from bot.errors import DeliveryError

log = structlog.get_logger(__name__)

ID_KINDS = ("open_id", "union_id", "user_id")
RETRY_LOOKUP = timedelta(minutes=1)


def receive_id_type(person: str) -> str:
    """How `im/v1/messages` is told to reach `person`: by open_id, union_id or user_id."""
    if person.startswith("ou_"):
        return "open_id"
    if person.startswith("on_"):
        return "union_id"
    return "user_id"


def sender_id(ids: Mapping[str, object], known: Collection[str]) -> str:
    """The id a sender is known by: the first of their ids a Tocsin user has, else open_id."""
    present = [value for kind in ID_KINDS if isinstance(value := ids.get(kind), str) and value]
    for value in present:
        if value in known:
            return value
    return present[0] if present else ""


class BotIdentity:
    """The bot's open_id, asked once (``bot/v3/info``); after a failure asked again a minute
    later. Until it is known, mentions are recognised by position (see `translate`).

    A message is translated (so its mentions read) before Feishu is acknowledged, and the
    callback waiting for that is bounded: one lookup is shared by every caller and outlives a
    caller that gives up, so a slow first answer is not asked for again by each re-delivery."""

    def __init__(self, api: FeishuApi, clock: Clock) -> None:
        self.api, self.clock = api, clock
        self._open_id: str | None = None
        self._next_try: datetime | None = None
        self._lookup: asyncio.Task[str | None] | None = None

    async def open_id(self) -> str | None:
        if self._open_id is not None:
            return self._open_id
        now = self.clock.now()
        if self._next_try is not None and now < self._next_try:
            return None
        if self._lookup is None:
            self._lookup = asyncio.get_running_loop().create_task(self._look_up(now))
        return await asyncio.shield(self._lookup)

    async def _look_up(self, now: datetime) -> str | None:
        try:
            self._open_id = await self.api.bot_open_id()
        except DeliveryError as exc:
            self._next_try = now + RETRY_LOOKUP
            log.warning("feishu: cannot learn the bot's open_id", error=str(exc))
        finally:
            self._lookup = None
        return self._open_id
