"""Display names of Slack users, looked up with ``users.info`` and remembered for a while.

A failed look-up never stops a request: the caller's fallback (the name in the payload, or the
user id) is used and nothing is remembered, so the next request asks again.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

import structlog

from adapters.chat.slack.web import SlackWeb
from bot.clock import Clock
from bot.errors import DeliveryError

log = structlog.get_logger(__name__)


class DisplayNames:
    """A bounded cache of user id → display name, each entry kept for `ttl`."""

    def __init__(self, web: SlackWeb, clock: Clock, ttl: timedelta, *, size: int = 4096) -> None:
        self.web, self.clock, self.ttl, self.size = web, clock, ttl, size
        self._names: OrderedDict[str, tuple[str, datetime]] = OrderedDict()

    async def get(self, user_id: str, fallback: str = "") -> str:
        now = self.clock.now()
        cached = self._names.get(user_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            user = await self.web.user_info(user_id)
        except DeliveryError as exc:
            log.warning("slack users.info failed", user=user_id, error=str(exc))
            return fallback or user_id
        name = display_name(user) or fallback or user_id
        self._names[user_id] = (name, now + self.ttl)
        self._names.move_to_end(user_id)
        while len(self._names) > self.size:
            self._names.popitem(last=False)
        return name


def display_name(user: dict[str, Any]) -> str:
    """The name Slack shows for `user`: display name, else real name, else the handle."""
    profile = user.get("profile")
    profile = profile if isinstance(profile, dict) else {}
    for candidate in (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("real_name"),
        user.get("name"),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return ""
