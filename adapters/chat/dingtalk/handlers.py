"""The dingtalk-stream SDK's callback handlers for Tocsin's two topics.

The SDK routes each Stream frame to the handler registered for its topic and sends back the
acknowledgement it builds from what ``process`` returns: ``{"code", "headers": {"contentType",
"messageId"}, "message", "data": "{\\"response\\": …}"}``. Both handlers answer as soon as the
request is stored: they translate, have `Replies` store it in the core's inbox and hand the slow
part to `Work`, and return.

- robot messages: ``200`` with ``"OK"``;
- card callbacks: ``200`` with the presser's private card data (``⏳ <button>``);
- a payload Tocsin cannot read: ``400`` with the reason, and nothing else happens;
- a request that could not be stored (the database is unavailable): ``500`` (the SDK's
  ``STATUS_SYSTEM_EXCEPTION``) with the reason, and nothing else happens.

Why a failure acknowledgement rather than an exception or ``200``: DingTalk treats a callback as
consumed only when it is acknowledged with ``200``, and delivers one acknowledged with a failure
(or not at all) again, with the same message id. A ``200`` for a request Tocsin has not stored
would lose it if the process stopped before the work was done. Letting the exception out of
``process`` is no better: the SDK builds no acknowledgement, and Tocsin's runner would answer
``400`` ("unreadable frame"), which says the request itself is wrong.
"""

from __future__ import annotations

from typing import Any

from dingtalk_stream import (  # type: ignore[import-untyped]
    AckMessage,
    CallbackHandler,
    ChatbotMessage,
)

from adapters.chat.dingtalk.replies import NotStored, Replies
from adapters.chat.dingtalk.translate import Malformed

MESSAGE_TOPIC: str = ChatbotMessage.TOPIC
CARD_TOPIC: str = CallbackHandler.TOPIC_CARD_CALLBACK
NOT_STORED: int = AckMessage.STATUS_SYSTEM_EXCEPTION


class MessageHandler(CallbackHandler):  # type: ignore[misc]
    """``/v1.0/im/bot/messages/get``: @-messages in groups and direct messages."""

    def __init__(self, replies: Replies) -> None:
        super().__init__()
        self.replies = replies

    async def process(self, message: Any) -> tuple[int, Any]:
        try:
            await self.replies.message(message.data)
        except Malformed as exc:
            return AckMessage.STATUS_BAD_REQUEST, f"malformed robot message: {exc}"
        except NotStored as exc:
            return NOT_STORED, f"robot message not stored, deliver it again: {exc}"
        return AckMessage.STATUS_OK, "OK"


class CardHandler(CallbackHandler):  # type: ignore[misc]
    """``/v1.0/card/instances/callback``: a button pressed on an interactive card."""

    def __init__(self, replies: Replies) -> None:
        super().__init__()
        self.replies = replies

    async def process(self, message: Any) -> tuple[int, Any]:
        try:
            return AckMessage.STATUS_OK, await self.replies.card_action(
                message.data, str(message.headers.message_id or "")
            )
        except Malformed as exc:
            return AckMessage.STATUS_BAD_REQUEST, f"malformed card callback: {exc}"
        except NotStored as exc:
            return NOT_STORED, f"card callback not stored, deliver it again: {exc}"
