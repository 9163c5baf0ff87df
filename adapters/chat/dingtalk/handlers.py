"""The dingtalk-stream SDK's callback handlers for Tocsin's two topics.

The SDK routes each Stream frame to the handler registered for its topic and sends back the
acknowledgement it builds from what ``process`` returns: ``{"code", "headers": {"contentType",
"messageId"}, "message", "data": "{\\"response\\": …}"}``. Both handlers answer at once: they
translate, hand the slow part to `Replies` (which runs it on `Work`) and return.

- robot messages: ``200`` with ``"OK"``;
- card callbacks: ``200`` with the presser's private card data (``⏳ <button>``);
- a payload Tocsin cannot read: ``400`` with the reason, and nothing else happens.
"""

from __future__ import annotations

from typing import Any

from dingtalk_stream import (  # type: ignore[import-untyped]
    AckMessage,
    CallbackHandler,
    ChatbotMessage,
)

from adapters.chat.dingtalk.replies import Replies
from adapters.chat.dingtalk.translate import Malformed

MESSAGE_TOPIC: str = ChatbotMessage.TOPIC
CARD_TOPIC: str = CallbackHandler.TOPIC_CARD_CALLBACK


class MessageHandler(CallbackHandler):  # type: ignore[misc]
    """``/v1.0/im/bot/messages/get``: @-messages in groups and direct messages."""

    def __init__(self, replies: Replies) -> None:
        super().__init__()
        self.replies = replies

    async def process(self, message: Any) -> tuple[int, Any]:
        try:
            self.replies.message(message.data)
        except Malformed as exc:
            return AckMessage.STATUS_BAD_REQUEST, f"malformed robot message: {exc}"
        return AckMessage.STATUS_OK, "OK"


class CardHandler(CallbackHandler):  # type: ignore[misc]
    """``/v1.0/card/instances/callback``: a button pressed on an interactive card."""

    def __init__(self, replies: Replies) -> None:
        super().__init__()
        self.replies = replies

    async def process(self, message: Any) -> tuple[int, Any]:
        try:
            return AckMessage.STATUS_OK, self.replies.card_action(
                message.data, str(message.headers.message_id or "")
            )
        except Malformed as exc:
            return AckMessage.STATUS_BAD_REQUEST, f"malformed card callback: {exc}"
