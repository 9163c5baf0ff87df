"""Console chat messages: rows of ``console_messages`` and the JSON shape browsers receive.

A message is ``text`` or ``card``. ``private_to`` names the one user who may see it (a Tocsin user
id or that user's console identity); everyone in the chat sees messages without it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.elements import ColumnElement

from bot.store.db import Database
from bot.store.tables import console_messages as table


@dataclass(frozen=True, slots=True)
class ConsoleMessage:
    """One stored console message."""

    id: int
    chat: str
    kind: str
    author: str
    text: str
    card: dict[str, Any] | None
    private_to: str | None
    reply_to: int | None
    created_at: datetime
    updated_at: datetime

    def visible_to(self, viewer: Collection[str]) -> bool:
        """Whether someone known by the names in `viewer` may see this message."""
        return self.private_to is None or self.private_to in viewer

    def to_json(self) -> dict[str, Any]:
        """The shape sent in ``history``, ``message`` and ``update`` events and the transcript."""
        return {
            "id": self.id,
            "chat": self.chat,
            "kind": self.kind,
            "author": self.author,
            "text": self.text,
            "card": self.card,
            "private": self.private_to is not None,
            "private_to": self.private_to,
            "reply_to": self.reply_to,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_row(cls, row: RowMapping) -> ConsoleMessage:
        return cls(
            id=int(row["id"]),
            chat=row["chat"],
            kind=row["kind"],
            author=row["author"],
            text=row["text"] or "",
            card=row["card"],
            private_to=row["private_to"],
            reply_to=row["reply_to"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


class MessageStore:
    """Reads and writes ``console_messages``; knows nothing about browsers."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        *,
        chat: str,
        kind: str,
        author: str,
        now: datetime,
        text: str = "",
        card: dict[str, Any] | None = None,
        private_to: str | None = None,
        reply_to: int | None = None,
    ) -> ConsoleMessage:
        values: dict[str, Any] = {
            "chat": chat,
            "kind": kind,
            "author": author,
            "text": text,
            "card": card,
            "private_to": private_to,
            "reply_to": reply_to,
            "created_at": now,
            "updated_at": now,
        }
        async with self._db.begin() as conn:
            result = await conn.execute(table.insert().values(**values))
            key = result.inserted_primary_key
            assert key is not None
            message_id = int(key[0])
        return ConsoleMessage(id=message_id, **values)

    async def get(self, message_id: int) -> ConsoleMessage | None:
        async with self._db.connect() as conn:
            row = (
                (await conn.execute(select(table).where(table.c.id == message_id)))
                .mappings()
                .first()
            )
        return ConsoleMessage.from_row(row) if row else None

    async def replace_card(
        self, message_id: int, card: dict[str, Any], now: datetime
    ) -> ConsoleMessage | None:
        """Store `card` in place of a card message's card; None when there is no such card."""
        async with self._db.begin() as conn:
            changed = await conn.execute(
                update(table)
                .where(and_(table.c.id == message_id, table.c.kind == "card"))
                .values(card=card, updated_at=now)
            )
            if not changed.rowcount:
                return None
            row = (
                (await conn.execute(select(table).where(table.c.id == message_id))).mappings().one()
            )
        return ConsoleMessage.from_row(row)

    async def recent(
        self, chat: str, *, viewer: Collection[str], limit: int = 200
    ) -> list[ConsoleMessage]:
        """The last `limit` messages of `chat` that `viewer` may see, oldest first."""
        visible: ColumnElement[bool] = table.c.private_to.is_(None)
        if viewer:
            visible = or_(visible, table.c.private_to.in_(sorted(viewer)))
        query = (
            select(table)
            .where(and_(table.c.chat == chat, visible))
            .order_by(table.c.id.desc())
            .limit(limit)
        )
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [ConsoleMessage.from_row(row) for row in reversed(rows)]
