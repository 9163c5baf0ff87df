"""The few Web API methods Tocsin calls, through slack_sdk's `AsyncWebClient`.

Each method returns the response data or raises `RetryableDelivery` / `PermanentDelivery`
(`adapters.chat.slack.errors`). The client is built without retry handlers: the outbox owns
retries, back-off and Retry-After.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.chat.slack.errors import delivery_error
from adapters.chat.slack.settings import SlackSettings
from bot.errors import PermanentDelivery

Blocks = Sequence[dict[str, Any]]


def web_client(settings: SlackSettings, *, token: str | None = None) -> AsyncWebClient:
    """An `AsyncWebClient` on `settings.api_url` that never retries by itself."""
    return AsyncWebClient(
        token=token if token is not None else settings.bot_token.get_secret_value(),
        base_url=settings.api_url,
        timeout=settings.web_timeout,
        retry_handlers=[],
    )


class SlackWeb:
    """Typed, error-mapped calls on one bot token."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post_message(
        self,
        channel: str,
        text: str,
        *,
        blocks: Blocks | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """``chat.postMessage``; the answer carries the message's ``channel`` and ``ts``."""
        return await _call(
            "chat.postMessage",
            self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            ),
        )

    async def update(
        self, channel: str, ts: str, text: str, *, blocks: Blocks | None = None
    ) -> dict[str, Any]:
        """``chat.update`` of the message at `channel` + `ts`."""
        return await _call(
            "chat.update", self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        )

    async def post_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        blocks: Blocks | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """``chat.postEphemeral``: shown to `user` only, in `channel`."""
        return await _call(
            "chat.postEphemeral",
            self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts
            ),
        )

    async def open_dm(self, user: str) -> str:
        """``conversations.open`` with one user: the id of the direct-message channel."""
        data = await _call("conversations.open", self.client.conversations_open(users=user))
        channel = data.get("channel")
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        if not isinstance(channel_id, str) or not channel_id:
            raise PermanentDelivery("slack conversations.open: no channel id in the answer")
        return channel_id

    async def set_usergroup_users(self, usergroup: str, users: Sequence[str]) -> dict[str, Any]:
        """``usergroups.users.update``: `users` become the whole membership of `usergroup`
        (needs the ``usergroups:write`` scope); the answer carries the updated user group."""
        return await _call(
            "usergroups.users.update",
            self.client.usergroups_users_update(usergroup=usergroup, users=list(users)),
        )

    async def user_info(self, user: str) -> dict[str, Any]:
        """``users.info``: the user object."""
        data = await _call("users.info", self.client.users_info(user=user))
        found = data.get("user")
        return found if isinstance(found, dict) else {}


async def _call(method: str, call: Awaitable[AsyncSlackResponse]) -> dict[str, Any]:
    try:
        response = await call
    except Exception as exc:
        raise delivery_error(method, exc) from exc
    data = response.data
    return dict(data) if isinstance(data, dict) else {}
