"""`DingTalkPlatform`: the app robot as a `ChatPlatform` (the outbound side).

Destinations are a group, ``dingtalk:<openConversationId>`` (``dingtalk:cidXXXX==``: the robot
must be in it), or one person's chat with the robot, ``dingtalk:@<who>``, where ``who`` is a Tocsin
user id mapped through ``users[].identities.dingtalk`` or else taken as a DingTalk userId.

With a card template configured, a card is an interactive card created from it with
``callbackType: STREAM`` (its buttons call back over the Stream connection); its reference is
``{"out_track_id": …, "space": …}`` and updates replace its public data for everyone in place
(``PUT /v1.0/card/instances``). Without a template the capabilities say so (no buttons, no
updates in place): a card is a markdown message whose buttons are Tocsin's signed action links.

A card's `mentions` (userIds: the on-call people of a chat group following a rotation) are
@-mentioned by the interactive card in a group (``atUserIds``); DingTalk's robot group messages
without a template cannot @-mention, so they go without.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from adapters.chat.dingtalk.openapi import OpenApi, RobotMessage
from adapters.chat.dingtalk.render import PRIVATE_VARIABLES, card_params, markdown, summary
from adapters.chat.dingtalk.settings import DingTalkSettings
from bot.errors import PermanentDelivery
from bot.model import Card, Destination
from bot.ports import ChatCapabilities, PostedRef

NAME = "dingtalk"
DM_PREFIX = "@"


def app_capabilities(settings: DingTalkSettings) -> ChatCapabilities:
    interactive = settings.card_template_id is not None
    return ChatCapabilities(
        buttons=interactive,
        update_in_place=interactive,
        direct_messages=True,
        rate_per_second=settings.rate_per_second,
        burst=settings.burst,
    )


@dataclass(frozen=True, slots=True)
class Space:
    """Where a message goes: a group (by openConversationId) or one person (by userId)."""

    group: str = ""
    user: str = ""

    @property
    def open_space_id(self) -> str:
        if self.group:
            return f"dtv1.card//IM_GROUP.{self.group}"
        return f"dtv1.card//IM_ROBOT.{self.user}"


class DingTalkPlatform:
    """Posts and updates cards and texts; raises `RetryableDelivery` / `PermanentDelivery`."""

    name = NAME

    def __init__(
        self,
        api: OpenApi,
        capabilities: ChatCapabilities,
        *,
        identities: Mapping[str, str] | None = None,
        new_id: Callable[[], str] = lambda: f"tocsin-{uuid.uuid4().hex}",
    ) -> None:
        self.api = api
        self.capabilities = capabilities
        self.identities: dict[str, str] = dict(identities or {})
        """Tocsin user id → DingTalk userId, for ``dingtalk:@<tocsin user>`` destinations."""
        self.new_id = new_id

    # -- ChatPlatform -------------------------------------------------------------------------

    async def post_card(self, dest: Destination, card: Card, *, lang: str) -> PostedRef:
        space = self.space(dest)
        if not self.capabilities.buttons:
            await self.send(
                space, RobotMessage.markdown(summary(card), markdown(card, links=True, lang=lang))
            )
            return PostedRef({"space": space.open_space_id})
        out_track_id = self.new_id()
        params = card_params(card, lang) | dict.fromkeys(PRIVATE_VARIABLES, "")
        await self.api.create_and_deliver(
            out_track_id, space.open_space_id, params, mentions=card.mentions
        )
        return PostedRef({"out_track_id": out_track_id, "space": space.open_space_id})

    async def update_card(
        self, dest: Destination, ref: PostedRef, card: Card, *, lang: str
    ) -> PostedRef:
        if not self.capabilities.update_in_place:
            return await self.post_card(dest, card, lang=lang)
        out_track_id = ref.data.get("out_track_id")
        if not isinstance(out_track_id, str) or not out_track_id:
            raise PermanentDelivery(f"dingtalk: card reference without out_track_id: {ref.data!r}")
        await self.api.update_card(out_track_id, params=card_params(card, lang))
        return ref

    async def post_text(self, dest: Destination, text: str, *, reply_to: PostedRef | None) -> None:
        if text.strip():  # DingTalk has no threads: a reply to a card goes to its chat
            await self.send(self.space(dest), RobotMessage.text(text))

    # -- destinations -------------------------------------------------------------------------

    def space(self, dest: Destination) -> Space:
        """The group or person `dest` names."""
        if dest.platform != self.name:
            raise PermanentDelivery(f"dingtalk: {dest} is not a DingTalk app robot destination")
        chat = dest.chat.strip()
        if not chat.startswith(DM_PREFIX):
            return Space(group=chat)
        who = chat[len(DM_PREFIX) :].strip()
        if not who:
            raise PermanentDelivery(f"dingtalk: {dest} names nobody")
        return Space(user=self.identities.get(who, who))

    async def send(self, space: Space, message: RobotMessage) -> None:
        """A robot message (text or markdown) to a group or a person."""
        if space.group:
            await self.api.send_group(space.group, message)
        else:
            await self.api.send_users([space.user], message)
