"""Writing outbox rows inside the caller's transaction.

Card rows carry no content: the worker renders the card from the current state when it delivers,
so any number of updates to one card coalesce into one delivery of the latest state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.model import Destination
from bot.outbox.budget import Budgets
from bot.store.db import Database
from bot.store.tables import card_posts, digests, outbox

_INSERT = outbox.insert()
DIGEST_PACE = timedelta(seconds=5)
"""A storm digest's card is updated at most this often while incidents fold into it."""
_QUEUED = select(func.count(func.distinct(outbox.c.card_ref))).where(
    and_(outbox.c.destination == bindparam("destination"), outbox.c.status == "pending")
)


class Outbox:
    """`fold`: the priorities (tier ranks) whose new cards fold into a digest in a storm."""

    def __init__(
        self,
        db: Database,
        budgets: Budgets,
        storm_horizon: float,
        fold: frozenset[int] = frozenset({1, 2, 3}),
    ) -> None:
        self.db = db
        self.budgets = budgets
        self.storm_horizon = storm_horizon
        self.fold = fold

    async def card(
        self,
        conn: AsyncConnection,
        card_ref: str,
        destinations: Iterable[str],
        *,
        priority: int,
        now: datetime,
        new: bool = False,
    ) -> None:
        """Post or update `card_ref` on each destination.

        For a `new` card of a priority in `fold` on a destination whose rate budget cannot carry
        its queue within the storm horizon, the card is folded into that destination's live
        digest instead (the digest's row takes the card's priority, so a P0 digest goes first).
        """
        rows = []
        for dest in destinations:
            if new and priority in self.fold and await self._over_budget(conn, dest, now):
                digest_ref, due = await self._fold(conn, dest, card_ref, now)
                rows.append(self._row(dest, digest_ref, priority, due))
                continue
            rows.append(self._row(dest, card_ref, priority, now))
        if rows:
            await conn.execute(_INSERT, rows)

    async def text(
        self,
        conn: AsyncConnection,
        destinations: Iterable[str],
        key: str,
        params: dict[str, object],
        *,
        now: datetime,
        reply_to_card: str = "",
        priority: int = 2,
    ) -> None:
        """Queue a catalogue text to each chat, threaded under `reply_to_card` where it was
        posted; each chat gets it in its own language when it is sent."""
        rows = self.text_rows(
            destinations, key, params, now=now, reply_to_card=reply_to_card, priority=priority
        )
        await self.insert(conn, rows)

    @staticmethod
    def text_rows(
        destinations: Iterable[str],
        key: str,
        params: dict[str, object],
        *,
        now: datetime,
        reply_to_card: str = "",
        priority: int = 2,
    ) -> list[dict[str, object]]:
        """The rows `text` writes, for callers that gather many messages into one insert."""
        payload = {"key": key, "params": params, "reply_to_card": reply_to_card}
        return [
            {
                "destination": str(Destination.parse(dest)),
                "kind": "text",
                "card_ref": "",
                "priority": priority,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for dest in destinations
        ]

    def card_rows(
        self, card_ref: str, destinations: Iterable[str], *, priority: int, now: datetime
    ) -> list[dict[str, object]]:
        """The rows `card` writes for an update (never folded into a digest)."""
        return [self._row(dest, card_ref, priority, now) for dest in destinations]

    @staticmethod
    async def insert(conn: AsyncConnection, rows: list[dict[str, object]]) -> None:
        if rows:
            await conn.execute(_INSERT, rows)

    @staticmethod
    def _row(dest: str, card_ref: str, priority: int, now: datetime) -> dict[str, object]:
        Destination.parse(dest)
        return {
            "destination": dest,
            "kind": "card",
            "card_ref": card_ref,
            "priority": priority,
            "payload": {},
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }

    async def _over_budget(self, conn: AsyncConnection, dest: str, now: datetime) -> bool:
        """Whether the destination's shared budget cannot carry its queue and one more card
        within the storm horizon (less any Retry-After block still running)."""
        horizon = self.storm_horizon
        blocked = await self.budgets.blocked_until(conn, dest)
        if blocked is not None and blocked > now:
            horizon = max(0.0, horizon - (blocked - now).total_seconds())
        capacity = self.budgets.limit(dest.partition(":")[0]).capacity(horizon)
        queued = (await conn.execute(_QUEUED, {"destination": dest})).scalar_one()
        return bool(queued + 1 > capacity)

    async def _fold(
        self, conn: AsyncConnection, dest: str, card_ref: str, now: datetime
    ) -> tuple[str, datetime]:
        """Add `card_ref` to the destination's open digest (opening one if needed); the digest's
        card and when it should next be sent: at once when new, else `DIGEST_PACE` after the
        digest last changed (the updates of one pace coalesce into one send, so a storm's
        digest spends little of the budget its incidents' own cards are waiting for)."""
        open_digest = self.db.for_update(
            select(digests.c.id, digests.c.incident_ids, digests.c.updated_at).where(
                and_(digests.c.destination == dest, digests.c.open)
            )
        )
        row = (await conn.execute(open_digest)).first()
        due = now if row is None else max(now, row.updated_at + DIGEST_PACE)
        if row is None:
            await conn.execute(
                self.db.insert(digests)
                .values(
                    destination=dest, open=True, incident_ids=[], created_at=now, updated_at=now
                )
                .on_conflict_do_nothing()
            )
            row = (await conn.execute(open_digest)).one()
        incident_id = int(card_ref.partition(":")[2])
        await conn.execute(
            update(digests)
            .where(digests.c.id == row.id)
            .values(incident_ids=[*row.incident_ids, incident_id], updated_at=now)
        )
        digest_ref = f"digest:{row.id}"
        await conn.execute(
            self.db.insert(card_posts)
            .values(
                card_ref=card_ref,
                destination=dest,
                ref={"digest": digest_ref},
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
        )
        return digest_ref, due
