"""`FeishuPlatform`: Feishu/Lark as a `ChatPlatform` (the outbound side).

Destinations are ``feishu:<chat_id>`` (``feishu:oc_5ce6d5…``, a group or one-to-one chat) or a
person, ``feishu:@<who>``, where `who` is a Tocsin user id mapped through
``users[].identities.feishu`` (the `identities` given to the constructor) or a Feishu id itself
(``feishu:@ou_…`` open_id, ``feishu:@on_…`` union_id, else a user_id). A person is messaged
directly by that id; Feishu opens the one-to-one chat by itself.

A posted card's reference is ``{"message_id": …, "chat_id": …}``; updates patch exactly that
message (``PATCH im/v1/messages/:id``; cards carry ``update_multi`` so everyone sees the update).
Texts are rich-text posts, shown literally, threaded under their card when they reply to one.

It also keeps a chat's on-call members (`GroupMembers`, ``im/v1/chats/:chat_id/members``) for
the chat groups that follow a rotation (`bot.oncall.groups`): it adds who is on call and takes
out only those it added before, never people who joined the chat by themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adapters.chat.feishu.ids import receive_id_type
from adapters.chat.feishu.memory import CardMemory
from adapters.chat.feishu.openapi import FeishuApi
from adapters.chat.feishu.render import post_content, render_card
from bot.errors import PermanentDelivery
from bot.model import Card, Destination
from bot.ports import ChatCapabilities, PostedRef

NAME = "feishu"
PERSON_PREFIX = "@"


class FeishuPlatform:
    """Posts and updates cards and texts; raises `RetryableDelivery` / `PermanentDelivery`."""

    name = NAME

    def __init__(
        self,
        api: FeishuApi,
        capabilities: ChatCapabilities,
        *,
        identities: Mapping[str, str] | None = None,
        memory: CardMemory | None = None,
    ) -> None:
        self.api = api
        self.capabilities = capabilities
        self.identities: dict[str, str] = dict(identities or {})
        """Tocsin user id → Feishu id, for ``feishu:@<tocsin user>`` destinations."""
        self.memory = memory or CardMemory()

    # -- ChatPlatform -------------------------------------------------------------------------

    async def post_card(self, dest: Destination, card: Card, *, lang: str) -> PostedRef:
        kind, receiver = self.receiver(dest)
        sent = await self.api.create(kind, receiver, "interactive", render_card(card, lang))
        self.memory.remember(sent["message_id"], card, lang)
        return PostedRef({"message_id": sent["message_id"], "chat_id": sent["chat_id"]})

    async def update_card(
        self, dest: Destination, ref: PostedRef, card: Card, *, lang: str
    ) -> PostedRef:
        message_id = ref.data.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise PermanentDelivery(f"feishu: card reference without message_id: {ref.data!r}")
        self.memory.remember(message_id, card, lang)
        await self.api.patch(message_id, render_card(card, lang))
        return ref

    async def post_text(self, dest: Destination, text: str, *, reply_to: PostedRef | None) -> None:
        if not text.strip():
            return  # Feishu refuses an empty message; there is nothing to say
        message_id = reply_to.data.get("message_id") if reply_to else None
        if isinstance(message_id, str) and message_id:
            await self.api.reply(message_id, "post", post_content(text))
            return
        kind, receiver = self.receiver(dest)
        await self.api.create(kind, receiver, "post", post_content(text))

    # -- GroupMembers ---------------------------------------------------------------------------

    async def set_group_members(
        self, group: str, wanted: Sequence[str], added_before: Sequence[str]
    ) -> list[str]:
        """Adds `wanted` to the chat `group` and removes those of `added_before` no longer
        wanted. Someone already in the chat before being wanted is not counted as added, so
        going off call leaves them where they were. Whom Feishu refused (not found, resigned,
        waiting for an approval) is left out of the answer."""
        ours: list[str] = []
        by_type: dict[str, tuple[list[str], list[str]]] = {}
        for who in wanted:
            by_type.setdefault(receive_id_type(who), ([], []))[0].append(who)
        for who in added_before:
            by_type.setdefault(receive_id_type(who), ([], []))[1].append(who)
        for id_type, (want, before) in sorted(by_type.items()):
            present = await self.api.chat_members(group, id_type) if want else set()
            fresh = [w for w in want if w not in present]
            refused = await self.api.add_chat_members(group, id_type, fresh) if fresh else set()
            fresh = [w for w in fresh if w not in refused]  # the caller sees who is missing
            gone = [b for b in before if b not in want]
            if gone:
                await self.api.remove_chat_members(group, id_type, gone)
            ours += [w for w in want if w in before or w in fresh]
        return ours

    # -- destinations -------------------------------------------------------------------------

    def receiver(self, dest: Destination) -> tuple[str, str]:
        """How `im/v1/messages` reaches `dest`: (receive_id_type, receive_id)."""
        if dest.platform != self.name:
            raise PermanentDelivery(f"feishu: {dest} is not a Feishu destination")
        chat = dest.chat.strip()
        if not chat.startswith(PERSON_PREFIX):
            return "chat_id", chat
        person = self.person(chat[len(PERSON_PREFIX) :])
        return receive_id_type(person), person

    def person(self, who: str) -> str:
        """The Feishu id for a Tocsin user id, or a Feishu id given as is."""
        if who in self.identities:
            return self.identities[who]
        if who.startswith(("ou_", "on_")):
            return who
        raise PermanentDelivery(
            f"feishu: no Feishu identity for {who!r}: give the Tocsin user "
            "identities: {feishu: ou_…} or address the open_id (feishu:@ou_…)"
        )
