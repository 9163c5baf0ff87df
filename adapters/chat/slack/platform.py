"""`SlackPlatform`: Slack as a `ChatPlatform` (the outbound side).

Destinations are ``slack:<channel id>`` (``slack:C024BE91L``) or a direct message,
``slack:@<user>``, where the user is a Tocsin user id mapped through ``users[].identities.slack``
(the `identities` given to the constructor) or a Slack user id (``slack:@U024BE7LH``). Direct
message channels are opened once with ``conversations.open`` and remembered.

It also keeps a user group's members (`GroupMembers`, ``usergroups.users.update``) for the chat
groups that follow a rotation (`bot.oncall.groups`).

A posted card's reference is ``{"channel": …, "ts": …}``, as ``chat.postMessage`` answered it;
updates go to exactly that message. Texts are escaped, so ``<!channel>`` in an alert shows as typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from adapters.chat.slack.render import MAX_FALLBACK, Message, mrkdwn, render_card
from adapters.chat.slack.web import SlackWeb
from bot.errors import PermanentDelivery
from bot.model import Card, Destination
from bot.ports import ChatCapabilities, PostedRef

NAME = "slack"
DM_PREFIX = "@"
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
MAX_TEXT = MAX_FALLBACK


class SlackPlatform:
    """Posts and updates cards and texts; raises `RetryableDelivery` / `PermanentDelivery`."""

    name = NAME

    def __init__(
        self,
        web: SlackWeb,
        capabilities: ChatCapabilities,
        *,
        identities: Mapping[str, str] | None = None,
    ) -> None:
        self.web = web
        self.capabilities = capabilities
        self.identities: dict[str, str] = dict(identities or {})
        """Tocsin user id → Slack user id, for ``slack:@<tocsin user>`` destinations."""
        self._dm_channels: dict[str, str] = {}

    # -- ChatPlatform -------------------------------------------------------------------------

    async def post_card(self, dest: Destination, card: Card, *, lang: str) -> PostedRef:
        channel = await self.channel(dest)
        return _ref(await self._post(channel, render_card(card, lang)), channel)

    async def update_card(
        self, dest: Destination, ref: PostedRef, card: Card, *, lang: str
    ) -> PostedRef:
        channel, ts = ref.data.get("channel"), ref.data.get("ts")
        if not (isinstance(channel, str) and channel and isinstance(ts, str) and ts):
            raise PermanentDelivery(f"slack: card reference without channel and ts: {ref.data!r}")
        message = render_card(card, lang)
        answer = await self.web.update(channel, ts, message.text, blocks=message.blocks)
        return PostedRef(
            {"channel": _str(answer.get("channel")) or channel, "ts": _str(answer.get("ts")) or ts}
        )

    async def post_text(self, dest: Destination, text: str, *, reply_to: PostedRef | None) -> None:
        if not text.strip():
            return  # Slack refuses an empty message; there is nothing to say
        thread_ts = _str(reply_to.data.get("ts")) if reply_to else ""
        channel = _str(reply_to.data.get("channel")) if reply_to else ""
        if not (channel and thread_ts):
            channel, thread_ts = await self.channel(dest), ""
        await self.web.post_message(channel, mrkdwn(text, MAX_TEXT), thread_ts=thread_ts or None)

    # -- GroupMembers ---------------------------------------------------------------------------

    async def set_group_members(
        self, group: str, wanted: Sequence[str], added_before: Sequence[str]
    ) -> list[str]:
        """The user group `group` (``S…``) holds exactly `wanted`. Slack refuses an empty user
        group (``invalid_users``), so with nobody wanted it is left as it is."""
        if not wanted:
            return list(added_before)
        await self.web.set_usergroup_users(group, wanted)
        return list(wanted)

    # -- destinations -------------------------------------------------------------------------

    async def channel(self, dest: Destination) -> str:
        """The Slack channel id `dest` names, opening a direct message when it is ``@user``."""
        if dest.platform != self.name:
            raise PermanentDelivery(f"slack: {dest} is not a Slack destination")
        chat = dest.chat.strip()
        if not chat.startswith(DM_PREFIX):
            return chat
        user = self.slack_user(chat[len(DM_PREFIX) :])
        if user not in self._dm_channels:
            self._dm_channels[user] = await self.web.open_dm(user)
        return self._dm_channels[user]

    def slack_user(self, who: str) -> str:
        """The Slack user id for a Tocsin user id or a Slack user id."""
        if who in self.identities:
            return self.identities[who]
        if SLACK_USER_ID.fullmatch(who):
            return who
        raise PermanentDelivery(
            f"slack: no Slack identity for {who!r}: give the Tocsin user "
            "identities: {slack: U…} or address the Slack user id (slack:@U…)"
        )

    async def _post(self, channel: str, message: Message) -> dict[str, object]:
        return await self.web.post_message(channel, message.text, blocks=message.blocks)


def _ref(answer: Mapping[str, object], channel: str) -> PostedRef:
    ts = _str(answer.get("ts"))
    if not ts:
        raise PermanentDelivery("slack chat.postMessage: the answer has no ts")
    return PostedRef({"channel": _str(answer.get("channel")) or channel, "ts": ts})


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
