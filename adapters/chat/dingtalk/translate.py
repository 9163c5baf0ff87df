"""DingTalk payloads into neutral requests. Pure functions on the SDK's own parsers.

- A robot message (Stream topic ``/v1.0/im/bot/messages/get``, or an HTTP-mode callback body:
  the same JSON) → a `CommandRequest`. DingTalk delivers only group messages that @ the robot and
  strips the mention, so ``@Tocsin /deploy orders v1.4.2 prod``, ``@Tocsin deploy …`` and a direct
  message ``deploy …`` all become ``/deploy orders v1.4.2 prod``.
- A card callback (topic ``/v1.0/card/instances/callback``) → a `CardActionRequest`, from the
  button's ``tocsin`` param.

Who: the sender's userId (``senderStaffId``; cards are created with ``userIdType: 1`` so a press
carries it too), which ``users[].identities.dingtalk`` maps to a Tocsin user.

De-duplication ids: ``message:<msgId>`` (a message keeps its id whichever way it arrives) and
``card:<Stream messageId>`` (DingTalk re-sends an unacknowledged callback with the same id).

`Malformed` says what is wrong with a payload Tocsin cannot read; None means "not for Tocsin"
(a picture, a press on some other card).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dingtalk_stream import CardCallbackMessage, ChatbotMessage  # type: ignore[import-untyped]

from adapters.chat.dingtalk.platform import DM_PREFIX, NAME
from adapters.chat.dingtalk.render import parse_value
from bot.grammar import split_command
from bot.model import CardActionRequest, CommandRequest, Destination, Sender

HELP = "/help"
GROUP = "2"


class Malformed(ValueError):
    """A payload that is not what DingTalk sends; the message says why."""


@dataclass(frozen=True, slots=True)
class Where:
    """Where to answer an inbound request."""

    group: str
    """The group's openConversationId; empty for a person's chat with the robot."""
    user: str
    """The sender's userId."""
    webhook: str = ""
    """The message's session webhook (empty for card presses)."""
    webhook_expires: datetime | None = None
    out_track_id: str = ""
    """The card a button was pressed on."""
    label: str = ""
    """The pressed button's text."""

    @property
    def direct(self) -> bool:
        return not self.group


def bot_message(
    data: object, now: datetime, *, bot_names: Sequence[str]
) -> tuple[CommandRequest, Where] | None:
    """A robot message as a command; None for what is not text."""
    if not isinstance(data, Mapping):
        raise Malformed("a robot message must be a JSON object")
    try:
        message: Any = ChatbotMessage.from_dict(dict(data))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Malformed(f"unreadable robot message: {type(exc).__name__}: {exc}") from None
    msg_id, conversation = _s(message.message_id), _s(message.conversation_id)
    user = _s(message.sender_staff_id) or _s(message.sender_id)
    if not msg_id or not conversation or not user:
        raise Malformed("a robot message needs msgId, conversationId and a sender")
    if message.message_type != "text" or message.text is None:
        return None
    group = conversation if _s(message.conversation_type) == GROUP else ""
    text = split_command(_s(message.text.content), bot_names, direct=True)
    request = CommandRequest(
        text=canonical(text or ""),
        sender=Sender(NAME, user, _s(message.sender_nick)),
        chat=Destination(NAME, group or f"{DM_PREFIX}{user}"),
        event_id=f"message:{msg_id}",
        received_at=now,
    )
    expires = message.session_webhook_expired_time
    where = Where(
        group,
        user,
        webhook=_s(message.session_webhook),
        webhook_expires=datetime.fromtimestamp(expires / 1000, UTC)
        if isinstance(expires, int)
        else None,
    )
    return request, where


def card_action(
    data: object, message_id: str, now: datetime
) -> tuple[CardActionRequest, Where] | None:
    """A button press on a Tocsin card; None for a press Tocsin did not make."""
    if not isinstance(data, Mapping):
        raise Malformed("a card callback must be a JSON object")
    try:
        callback: Any = CardCallbackMessage.from_dict(dict(data))
    except (TypeError, ValueError) as exc:
        raise Malformed(f"unreadable card callback: {type(exc).__name__}: {exc}") from None
    user, out_track_id = _s(callback.user_id), _s(callback.card_instance_id)
    content = callback.content if isinstance(callback.content, Mapping) else {}
    private = content.get("cardPrivateData")
    params = private.get("params") if isinstance(private, Mapping) else None
    if not user or not out_track_id or not isinstance(params, Mapping) or not message_id:
        raise Malformed("a card callback needs userId, outTrackId, params and a message id")
    value = parse_value(params.get("tocsin"))
    if value is None:
        return None
    space = _s(data.get("spaceId"))
    group = space if space.startswith("cid") else ""
    request = CardActionRequest(
        action=value.action,
        card_ref=value.card_ref,
        value=value.value,
        sender=Sender(NAME, user),
        chat=Destination(NAME, group or f"{DM_PREFIX}{user}"),
        event_id=f"card:{message_id}",
        received_at=now,
    )
    return request, Where(group, user, out_track_id=out_track_id, label=_s(params.get("label")))


def canonical(text: str) -> str:
    """``ack 1`` or ``/ack 1`` → ``/ack 1``; nothing → ``/help``."""
    body = text.strip()
    if body.startswith(("/", "／")):
        body = body[1:].lstrip()
    return f"/{body}" if body else HELP


def decode(raw: str | bytes) -> object:
    """JSON text as data; `Malformed` when it is not JSON."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Malformed(f"not JSON: {exc}") from None


def _s(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
