"""Who reads a console tab: the language of the page's own labels and the time zone of its
message times, as the core would write to that person in that chat (`bot.prefs.reader`): their
``/lang`` and ``/tz`` choices, their configured language, the chat's choices, then the defaults.

Cards stored before cards carried a badge get one here, in the reader's language, so the page
never shows a raw status key (`adapters.chat.cardparts.badge_of`).
"""

from __future__ import annotations

from typing import Any

from adapters.chat.cardparts import badge_of
from adapters.chat.console.identity import ConsoleUser
from adapters.chat.console.messages import ConsoleMessage
from bot.model import Card
from bot.prefs import Reader, reader
from bot.store.db import Database

PLATFORM = "console"


async def reader_of(db: Database, user: ConsoleUser, chat: str, default: Reader) -> Reader:
    """The language and zone `user` reads console `chat` in."""
    async with db.connect() as conn:
        return await reader(
            conn,
            user=user.id,
            chat=f"{PLATFORM}:{chat}",
            default=default,
            configured=user.language,
        )


def reader_json(found: Reader) -> dict[str, str]:
    return {"language": found.lang, "timezone": found.tz}


def message_json(message: ConsoleMessage, lang: str) -> dict[str, Any]:
    """`message` as the page receives it; a card without a badge gets its status's badge."""
    shown = message.to_json()
    card = message.card
    if card is not None and not card.get("badge"):
        status = str(card.get("status") or "")
        badge = badge_of(Card(ref="", title="", tier=None, status=status), lang)
        if badge is not None:
            shown["card"] = {**card, "badge": {"word": badge.word, "tone": badge.tone.value}}
    return shown
