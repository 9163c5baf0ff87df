"""`ConsolePlatform`: the web console as a `ChatPlatform`.

Posting stores a ``console_messages`` row, then tells the connected tabs of that chat through the
`ConsoleHub`; an update rewrites the row's card and sends an ``update`` event with the same message
id, so the page replaces the card in place. Chats are the configured ones (``console.chats``) plus
one private chat per user, ``@<user id>``, which only that user sees. Cards arrive already written
in the reader's language by the core; `lang` only names the badge of a card that has none
(`adapters.chat.cardparts.badge_of`), so the page never shows a raw status key.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import Any

from adapters.chat.cardparts import badge_of
from adapters.chat.console.hub import ConsoleHub
from adapters.chat.console.messages import ConsoleMessage, MessageStore
from bot.clock import Clock
from bot.errors import PermanentDelivery
from bot.model import Card, Destination
from bot.ports import ChatCapabilities, PostedRef
from bot.store.db import Database

BOT_AUTHOR = "Tocsin"
PRIVATE_PREFIX = "@"


def private_chat(user_id: str) -> str:
    """The name of `user_id`'s private chat."""
    return f"{PRIVATE_PREFIX}{user_id}"


class ConsolePlatform:
    """The console chat. Raises `PermanentDelivery` for a chat that does not exist."""

    name = "console"
    capabilities = ChatCapabilities(
        buttons=True, update_in_place=True, direct_messages=True, rate_per_second=50, burst=100
    )

    def __init__(
        self, db: Database, clock: Clock, hub: ConsoleHub, *, chats: Iterable[str] = ("ops",)
    ) -> None:
        self.db = db
        self.store = MessageStore(db)
        self.hub = hub
        self.chats: tuple[str, ...] = tuple(chats)
        self._clock = clock

    # -- ChatPlatform ------------------------------------------------------------------------

    async def post_card(self, dest: Destination, card: Card, *, lang: str) -> PostedRef:
        chat, private_to = self.resolve(dest)
        shown = _badged(card, lang)
        message = await self._add(chat, "card", card=shown, private_to=private_to)
        return PostedRef({"message_id": message.id})

    async def update_card(
        self, dest: Destination, ref: PostedRef, card: Card, *, lang: str
    ) -> PostedRef:
        chat, _ = self.resolve(dest)
        message_id = ref.data.get("message_id")
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise PermanentDelivery(f"console: reference without a message id: {ref.data!r}")
        existing = await self.store.get(message_id)
        if existing is None or existing.chat != chat or existing.kind != "card":
            raise PermanentDelivery(f"console: no card message {message_id} in chat {chat!r}")
        updated = await self.store.replace_card(message_id, _badged(card, lang), self._clock.now())
        if updated is None:
            raise PermanentDelivery(f"console: card message {message_id} disappeared")
        self._publish("update", updated)
        return ref

    async def post_text(self, dest: Destination, text: str, *, reply_to: PostedRef | None) -> None:
        chat, private_to = self.resolve(dest)
        await self._add(chat, "text", text=text, private_to=private_to, reply_to=_id_of(reply_to))

    # -- console specifics -------------------------------------------------------------------

    async def post_private(
        self, chat: str, user_id: str, text: str, *, reply_to: int | None = None
    ) -> ConsoleMessage:
        """Post `text` in `chat` so that only `user_id` sees it."""
        self.resolve(Destination(self.name, chat))
        return await self._add(chat, "text", text=text, private_to=user_id, reply_to=reply_to)

    async def post_private_card(
        self, chat: str, user_id: str, card: Card, *, lang: str = "en"
    ) -> ConsoleMessage:
        """Post `card` in `chat` so that only `user_id` sees it."""
        self.resolve(Destination(self.name, chat))
        return await self._add(chat, "card", card=_badged(card, lang), private_to=user_id)

    async def post_as_user(self, chat: str, author: str, text: str) -> ConsoleMessage:
        """Store and show what a person typed in `chat`."""
        _, private_to = self.resolve(Destination(self.name, chat))
        return await self._add(chat, "text", text=text, author=author, private_to=private_to)

    async def history(
        self, chat: str, viewer: Collection[str], *, limit: int = 200
    ) -> list[ConsoleMessage]:
        """The last `limit` messages of `chat` that someone known as `viewer` may see."""
        return await self.store.recent(chat, viewer=viewer, limit=limit)

    async def message(self, message_id: int) -> ConsoleMessage | None:
        return await self.store.get(message_id)

    def resolve(self, dest: Destination) -> tuple[str, str | None]:
        """The chat name and the private reader of `dest`; `PermanentDelivery` if it is unknown."""
        if dest.platform != self.name:
            raise PermanentDelivery(f"console: {dest} is not a console destination")
        chat = dest.chat
        if chat.startswith(PRIVATE_PREFIX) and len(chat) > len(PRIVATE_PREFIX):
            return chat, chat[len(PRIVATE_PREFIX) :]
        if chat in self.chats:
            return chat, None
        known = ", ".join(self.chats) or "none"
        raise PermanentDelivery(
            f"console: chat {chat!r} does not exist (configured chats: {known}; "
            "private chats are '@<user id>')"
        )

    # -- internals ---------------------------------------------------------------------------

    async def _add(
        self,
        chat: str,
        kind: str,
        *,
        text: str = "",
        card: dict[str, Any] | None = None,
        author: str = BOT_AUTHOR,
        private_to: str | None = None,
        reply_to: int | None = None,
    ) -> ConsoleMessage:
        message = await self.store.add(
            chat=chat,
            kind=kind,
            author=author,
            now=self._clock.now(),
            text=text,
            card=card,
            private_to=private_to,
            reply_to=reply_to,
        )
        self._publish("message", message)
        return message

    def _publish(self, event_type: str, message: ConsoleMessage) -> None:
        self.hub.broadcast(
            message.chat,
            {"type": event_type, "message": message.to_json()},
            private_to=message.private_to,
        )


def _badged(card: Card, lang: str) -> dict[str, Any]:
    """`card` as stored, with a badge when it came without one and its status has one."""
    return (card if card.badge else replace(card, badge=badge_of(card, lang))).to_json()


def _id_of(ref: PostedRef | None) -> int | None:
    value = ref.data.get("message_id") if ref is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
