"""Language and time-zone preferences per person and per chat, stored so every replica sees
them, and who reads a chat: a direct chat (``slack:@bob``) is read by its person, in the
person's language and zone; any other chat in the chat's.

Each preference falls back on its own: the person's stored choice, the person's configured
language, the chat's choice, then the configured default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import Database
from bot.store.tables import preferences


@dataclass(frozen=True, slots=True)
class Reader:
    """The language and IANA time zone a message is written in."""

    lang: str
    tz: str


@dataclass(frozen=True, slots=True)
class Choice:
    """What one scope chose; None where it chose nothing."""

    language: str | None = None
    timezone: str | None = None


def user_scope(user_id: str) -> str:
    return f"user:{user_id}"


def chat_scope(destination: str) -> str:
    return f"chat:{destination}"


def direct_user(destination: str) -> str | None:
    """The Tocsin user a direct chat belongs to (``slack:@bob`` -> ``bob``), else None."""
    _platform, _, chat = destination.partition(":")
    return chat[1:] if chat.startswith("@") and len(chat) > 1 else None


async def get_choice(conn: AsyncConnection, scope: str) -> Choice:
    stmt = select(preferences.c.language, preferences.c.timezone).where(
        preferences.c.scope == scope
    )
    row = (await conn.execute(stmt)).first()
    return Choice(row.language or None, row.timezone or None) if row else Choice()


async def get_language(conn: AsyncConnection, scope: str) -> str | None:
    return (await get_choice(conn, scope)).language


async def set_language(db: Database, conn: AsyncConnection, scope: str, language: str) -> None:
    stmt = db.insert(preferences).values(scope=scope, language=language)
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["scope"], set_={"language": language})
    )


async def set_timezone(db: Database, conn: AsyncConnection, scope: str, timezone: str) -> None:
    stmt = db.insert(preferences).values(scope=scope, timezone=timezone)
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["scope"], set_={"timezone": timezone})
    )


async def reader(
    conn: AsyncConnection,
    *,
    user: str | None,
    chat: str,
    default: Reader,
    configured: str | None = None,
) -> Reader:
    """Who reads: `user`'s choices (then their `configured` language) before the `chat`'s,
    before `default`."""
    scopes = [chat_scope(chat), *([user_scope(user)] if user else [])]
    stmt = select(preferences).where(preferences.c.scope.in_(scopes))  # one round trip
    found = {
        row.scope: Choice(row.language or None, row.timezone or None)
        for row in await conn.execute(stmt)
    }
    mine = found.get(user_scope(user), Choice()) if user else Choice()
    theirs = found.get(chat_scope(chat), Choice())
    lang = mine.language or (configured if user else None) or theirs.language
    tz = mine.timezone or theirs.timezone
    return Reader(lang or default.lang, tz or default.tz)


async def reader_of(
    conn: AsyncConnection, destination: str, languages: Mapping[str, str], default: Reader
) -> Reader:
    """Who reads what is posted to `destination`: a direct chat's person (whose configured
    language is in `languages`), else the chat."""
    user = direct_user(destination)
    configured = languages.get(user) if user else None
    return await reader(conn, user=user, chat=destination, default=default, configured=configured)
