"""The few Open API calls Tocsin makes, through lark-oapi's `lark.Client`, as delivery errors.

lark-oapi's calls block (``requests``), and so does its tenant-token fetch hidden inside each
call, so every call runs on a worker thread (`asyncio.to_thread`) and never stalls the core's
loop. The client fetches and caches the tenant access token from the configured domain
(``/open-apis/auth/v3/tenant_access_token/internal``) by itself. Failures come back as
`RetryableDelivery` / `PermanentDelivery` (`adapters.chat.feishu.errors`); nothing is retried here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from functools import partial
from typing import Any

import lark_oapi as lark  # type: ignore[import-untyped]
from lark_oapi.api.im.v1 import (  # type: ignore[import-untyped]
    CreateChatMembersRequest,
    CreateChatMembersRequestBody,
    CreateMessageRequest,
    CreateMessageRequestBody,
    DeleteChatMembersRequest,
    DeleteChatMembersRequestBody,
    GetChatMembersRequest,
    PatchMessageRequest,
    PatchMessageRequestBody,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)

from adapters.chat.feishu.errors import exception_error, response_error
from adapters.chat.feishu.settings import FeishuSettings
from bot.errors import PermanentDelivery

BOT_INFO = "/open-apis/bot/v3/info"
MEMBERS = "im/v1/chats/:chat_id/members"
MEMBER_PAGES = 50
"""At most this many pages of 100 members are read (a 5,000-person chat): bounded work."""


def open_client(settings: FeishuSettings) -> Any:
    """A `lark.Client` for the app on the configured domain (Feishu, Lark or a test server)."""
    return (
        lark.Client.builder()
        .app_id(settings.app_id)
        .app_secret(settings.app_secret.get_secret_value())
        .domain(settings.base_url)
        .timeout(settings.call_timeout)
        .log_level(lark.LogLevel.WARNING)
        .build()
    )


class FeishuApi:
    """Typed, error-mapped calls on one app's tenant token."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def create(
        self, receive_id_type: str, receive_id: str, msg_type: str, content: dict[str, Any]
    ) -> dict[str, str]:
        """``POST im/v1/messages``: the new message's ``message_id`` and ``chat_id``."""
        request = (
            CreateMessageRequest.builder()
            .receive_id_type(receive_id_type)
            .request_body(
                CreateMessageRequestBody.builder()
                .receive_id(receive_id)
                .msg_type(msg_type)
                .content(_json(content))
                .build()
            )
            .build()
        )
        response = await self._call(
            "im/v1/messages", lambda: self.client.im.v1.message.create(request)
        )
        return _message(response, "im/v1/messages")

    async def reply(
        self, message_id: str, msg_type: str, content: dict[str, Any], *, in_thread: bool = False
    ) -> dict[str, str]:
        """``POST im/v1/messages/:id/reply``: answer under `message_id`."""
        request = (
            ReplyMessageRequest.builder()
            .message_id(message_id)
            .request_body(
                ReplyMessageRequestBody.builder()
                .msg_type(msg_type)
                .content(_json(content))
                .reply_in_thread(in_thread)
                .build()
            )
            .build()
        )
        what = "im/v1/messages/:id/reply"
        response = await self._call(what, lambda: self.client.im.v1.message.reply(request))
        return _message(response, what)

    async def patch(self, message_id: str, card: dict[str, Any]) -> None:
        """``PATCH im/v1/messages/:id``: the card shown by `message_id` becomes `card`."""
        request = (
            PatchMessageRequest.builder()
            .message_id(message_id)
            .request_body(PatchMessageRequestBody.builder().content(_json(card)).build())
            .build()
        )
        await self._call(
            "PATCH im/v1/messages/:id", lambda: self.client.im.v1.message.patch(request)
        )

    # -- chat members ----------------------------------------------------------------------------

    async def chat_members(self, chat_id: str, id_type: str) -> set[str]:
        """``GET im/v1/chats/:chat_id/members``: the members' ids of `id_type`, page by page."""
        found: set[str] = set()
        token = ""
        for _ in range(MEMBER_PAGES):
            builder = (
                GetChatMembersRequest.builder()
                .chat_id(chat_id)
                .member_id_type(id_type)
                .page_size(100)
            )
            request = (builder.page_token(token) if token else builder).build()
            response = await self._call(f"GET {MEMBERS}", partial(self._members_page, request))
            data = response.data
            found |= {m.member_id for m in (getattr(data, "items", None) or []) if m.member_id}
            token = getattr(data, "page_token", None) or ""
            if not getattr(data, "has_more", False) or not token:
                break
        return found

    def _members_page(self, request: Any) -> Any:
        return self.client.im.v1.chat_members.get(request)

    async def add_chat_members(self, chat_id: str, id_type: str, ids: list[str]) -> set[str]:
        """``POST im/v1/chats/:chat_id/members``: add `ids`; those Feishu refused (not found,
        resigned, waiting for an approval) come back."""
        request = (
            CreateChatMembersRequest.builder()
            .chat_id(chat_id)
            .member_id_type(id_type)
            .request_body(CreateChatMembersRequestBody.builder().id_list(ids).build())
            .build()
        )
        response = await self._call(
            f"POST {MEMBERS}", lambda: self.client.im.v1.chat_members.create(request)
        )
        data = response.data
        refused: set[str] = set()
        for name in ("invalid_id_list", "not_existed_id_list", "pending_approval_id_list"):
            refused |= set(getattr(data, name, None) or [])
        return refused

    async def remove_chat_members(self, chat_id: str, id_type: str, ids: list[str]) -> None:
        """``DELETE im/v1/chats/:chat_id/members``: take `ids` out of the chat."""
        request = (
            DeleteChatMembersRequest.builder()
            .chat_id(chat_id)
            .member_id_type(id_type)
            .request_body(DeleteChatMembersRequestBody.builder().id_list(ids).build())
            .build()
        )
        await self._call(
            f"DELETE {MEMBERS}", lambda: self.client.im.v1.chat_members.delete(request)
        )

    async def bot_open_id(self) -> str:
        """``GET bot/v3/info``: the bot's own open_id (how its @-mentions are recognised)."""
        request = (
            lark.BaseRequest.builder()
            .http_method(lark.HttpMethod.GET)
            .uri(BOT_INFO)
            .token_types({lark.AccessTokenType.TENANT})
            .build()
        )
        response = await self._call("bot/v3/info", lambda: self.client.request(request))
        try:
            body = json.loads(response.raw.content)
            open_id = body["bot"]["open_id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentDelivery("feishu bot/v3/info: no open_id in the answer") from exc
        if not isinstance(open_id, str) or not open_id:
            raise PermanentDelivery("feishu bot/v3/info: no open_id in the answer")
        return open_id

    async def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            response = await asyncio.to_thread(call)
        except Exception as exc:
            raise exception_error(what, exc) from exc
        if response.success():
            return response
        raw = response.raw
        raise response_error(
            what,
            status=int(getattr(raw, "status_code", 0) or 0),
            code=response.code if isinstance(response.code, int) else None,
            msg=str(response.msg or ""),
            headers=dict(getattr(raw, "headers", None) or {}),
        )


def _json(content: dict[str, Any]) -> str:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"))


def _message(response: Any, what: str) -> dict[str, str]:
    data = response.data
    message_id = getattr(data, "message_id", None)
    if not isinstance(message_id, str) or not message_id:
        raise PermanentDelivery(f"feishu {what}: the answer has no message_id")
    chat_id = getattr(data, "chat_id", None)
    return {"message_id": message_id, "chat_id": chat_id if isinstance(chat_id, str) else ""}
