"""Language preferences per person and per chat, stored so every replica sees them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import Database
from bot.store.tables import preferences


def user_scope(user_id: str) -> str:
    return f"user:{user_id}"


def chat_scope(destination: str) -> str:
    return f"chat:{destination}"


async def get_language(conn: AsyncConnection, scope: str) -> str | None:
    row = (
        await conn.execute(select(preferences.c.language).where(preferences.c.scope == scope))
    ).first()
    return row.language if row else None


async def set_language(db: Database, conn: AsyncConnection, scope: str, language: str) -> None:
    stmt = db.insert(preferences).values(scope=scope, language=language)
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["scope"], set_={"language": language})
    )
