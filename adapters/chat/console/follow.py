"""Relaying console messages written by other processes to this process's browsers.

A browser's WebSocket lives in one process, but cards are posted by whichever process's engine
delivered them: another worker (`server.workers`) or another replica. While browsers are
connected, the follower reads what changed in `console_messages` and sends it on. Browsers
replace messages by id, so a message that also went out directly is harmless.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select

from adapters.chat.console.hub import ConsoleHub
from adapters.chat.console.messages import ConsoleMessage
from bot.clock import Clock
from bot.store.db import Database
from bot.store.outage import classify
from bot.store.tables import console_messages as table

log = structlog.get_logger(__name__)
OVERLAP = timedelta(seconds=2)
"""Look this far back, so a row committed a little after its timestamp is not missed."""


class ConsoleFollower:
    def __init__(self, db: Database, hub: ConsoleHub, clock: Clock, interval: float = 0.5) -> None:
        self.db, self.hub, self.clock, self.interval = db, hub, clock, interval
        self._last_id: int | None = None
        self._since: datetime | None = None
        self._sent: dict[int, datetime] = {}

    async def run(self) -> None:
        """Poll until cancelled; a failed poll is logged and retried on the next beat."""
        while True:
            try:
                if self.hub.sessions():
                    await self.poll_once()
                else:
                    self._last_id = None  # nobody listens: start afresh when someone comes
            except Exception as exc:
                unavailable = classify(exc)
                if unavailable is None:
                    log.exception("console follower poll failed")
                else:  # counted with the outage, which is logged once
                    self.db.outage.skipped(unavailable, what="console follower poll")
            await asyncio.sleep(self.interval)

    async def poll_once(self) -> int:
        """Relay what changed since the last poll; returns how many messages were sent on."""
        now = self.clock.now()
        async with self.db.connect() as conn:
            if self._last_id is None:  # first poll: only remember where the table ends
                newest = (
                    await conn.execute(select(table.c.id).order_by(table.c.id.desc()).limit(1))
                ).scalar()
                self._last_id, self._since = int(newest or 0), now - OVERLAP
                return 0
            assert self._since is not None
            stmt = (
                select(table)
                .where(or_(table.c.id > self._last_id, table.c.updated_at >= self._since))
                .order_by(table.c.id)
                .limit(500)
            )
            rows = (await conn.execute(stmt)).mappings().all()
        sent = 0
        for row in rows:
            message = ConsoleMessage.from_row(row)
            self._last_id = max(self._last_id, message.id)
            if self._sent.get(message.id) == message.updated_at:
                continue
            self._sent[message.id] = message.updated_at
            self.hub.broadcast(
                message.chat,
                {"type": "message", "message": message.to_json()},
                private_to=message.private_to,
            )
            sent += 1
        self._since = now - OVERLAP
        if len(self._sent) > 5000:  # forget versions older than the look-back window
            self._sent = {k: v for k, v in self._sent.items() if v >= self._since}
        return sent
