"""The inbox's rows: accepted before the platform's acknowledgement, finished with the request's
effects, taken over after their lease."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.inbox.codec import Json, Request, encode, kind_of
from bot.store.db import Database
from bot.store.tables import TS, inbox

LEASE = timedelta(seconds=30)
"""How long the replica handling a row has before any other may take it over. Handling a press
takes well under a second; a replica that holds a row this long has died or is stopping."""
MAX_ATTEMPTS = 5
"""Attempts (the first included) before a row is given up."""
MAX_KEY = 256
BATCH = 20


def key(event_id: str) -> str:
    """The stored form of a platform's event id (as the dispatcher's de-duplication keeps it)."""
    return event_id[:MAX_KEY]


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    platform: str
    kind: str
    request: Json
    route: Json
    attempts: int


class Inbox:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock
        self._due = (
            select(inbox)
            .where(
                and_(inbox.c.state == "pending", inbox.c.lease_until < bindparam("b_now", type_=TS))
            )
            .order_by(inbox.c.id)
            .limit(BATCH)
        )

    async def accept(self, request: Request, route: Json) -> bool:
        """Store `request` with `route`; False when it was stored already (a re-delivery).
        A request without an event id cannot be told from its re-delivery and is not stored."""
        if not request.event_id:
            return True
        now = self.clock.now()
        stmt = (
            self.db.insert(inbox)
            .values(
                platform=request.sender.platform,
                event_id=key(request.event_id),
                kind=kind_of(request),
                request=encode(request),
                route=route,
                state="pending",
                attempts=1,
                lease_until=now + LEASE,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(inbox.c.id)
        )
        async with self.db.begin() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def finish(
        self, conn: AsyncConnection, platform: str, event_id: str, state: str = "done"
    ) -> None:
        """Mark the request's row (if it has one) `state`, in the transaction of its effects."""
        if not event_id:
            return
        await conn.execute(
            update(inbox)
            .where(
                inbox.c.platform == platform,
                inbox.c.event_id == key(event_id),
                inbox.c.state == "pending",
            )
            .values(state=state, done_at=self.clock.now())
        )

    async def claim(self) -> list[Entry]:
        """Pending rows whose lease has ended, now leased to this replica."""
        now = self.clock.now()
        rows = await self.db.claim(
            inbox,
            self._due.params(b_now=now),
            lease_until=now + LEASE,
            attempts=inbox.c.attempts + 1,
        )
        return [Entry(r.id, r.platform, r.kind, r.request, r.route, r.attempts + 1) for r in rows]

    async def give_up(self, entry: Entry) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                update(inbox)
                .where(inbox.c.id == entry.id, inbox.c.state == "pending")
                .values(state="failed", done_at=self.clock.now())
            )
