"""WeCom callbacks as the neutral requests the core speaks. Pure functions, no I/O.

Self-built app callbacks arrive as flat fields (XML elements or JSON keys): a text someone sent
the app becomes a command, a ``template_card_event`` a press. AI-bot callbacks are JSON: a text
(or the text parts of a mixed message, or a voice message's transcript) becomes a command, a
``template_card_event`` a press.

Every command reaches the core as ``/<command> <arguments>``, however typed: ``@Tocsin ack 1``,
``ack 1``, ``/ack 1`` (and nothing but a mention is ``/help``).

De-duplication ids: ``app:msg:<MsgId>`` for app messages, ``app:card:<user>:<CreateTime>:<TaskId>
:<key digest>`` for app presses (WeCom's advice: FromUserName + CreateTime), and
``aibot:<msgid>`` for AI-bot callbacks. WeCom's re-deliveries carry the same ones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.chat.wecom.keys import Key, parse_key
from adapters.chat.wecom.platform import NAME
from bot.grammar import split_command
from bot.model import CommandRequest, Destination, Sender

HELP = "/help"
AIBOT_CHAT = "wecom-aibot"
"""The platform part of an AI-bot group's chat (``wecom-aibot:<chatid>``): the bot cannot post
there unasked, so no outbound platform has this name."""
_LEADING_MENTION = re.compile(r"^[@＠]\S+\s*")


@dataclass(frozen=True, slots=True)
class Press:
    """A button pressed on one of Tocsin's cards, before it becomes a `CardActionRequest`."""

    key: Key
    task_id: str
    user: str
    event_id: str
    received_at: datetime
    response_code: str = ""
    """Self-built app: the fresh code to update this card with."""


@dataclass(frozen=True, slots=True)
class AIBotWhere:
    """Where an AI-bot callback came from, to answer it."""

    userid: str
    chatid: str
    group: bool
    response_url: str


# -- self-built app -----------------------------------------------------------------------------


def app_command(
    fields: Mapping[str, str], now: datetime, bot_names: Sequence[str]
) -> CommandRequest | None:
    """A text someone sent the app, as a command; None for anything else."""
    if _f(fields, "MsgType") != "text":
        return None
    user = _f(fields, "FromUserName")
    if not user:
        return None
    msgid = _f(fields, "MsgId")
    event_id = f"app:msg:{msgid}" if msgid else f"app:msg:{user}:{_f(fields, 'CreateTime')}"
    return CommandRequest(
        text=command_text(_f(fields, "Content"), bot_names),
        sender=Sender(NAME, user),
        chat=Destination(NAME, user),
        event_id=event_id,
        received_at=now,
    )


def app_press(fields: Mapping[str, str], now: datetime) -> Press | None:
    """A ``template_card_event`` on one of Tocsin's cards; None for anything else."""
    if _f(fields, "MsgType") != "event" or _f(fields, "Event") != "template_card_event":
        return None
    raw_key, user, task_id = (
        _f(fields, "EventKey"),
        _f(fields, "FromUserName"),
        _f(fields, "TaskId"),
    )
    key = parse_key(raw_key)
    if key is None or not user or not task_id:
        return None
    digest = hashlib.sha256(raw_key.encode()).hexdigest()[:16]
    return Press(
        key=key,
        task_id=task_id,
        user=user,
        event_id=f"app:card:{user}:{_f(fields, 'CreateTime')}:{task_id}:{digest}"[:256],
        received_at=now,
        response_code=_f(fields, "ResponseCode"),
    )


# -- AI bot -------------------------------------------------------------------------------------


def aibot_where(data: Mapping[str, Any]) -> AIBotWhere | None:
    user = _s(_m(data.get("from")).get("userid"))
    if not user:
        return None
    chatid = _s(data.get("chatid"))
    group = _s(data.get("chattype")) == "group" and bool(chatid)
    return AIBotWhere(user, chatid, group, _s(data.get("response_url")))


def aibot_command(
    data: Mapping[str, Any], now: datetime, bot_names: Sequence[str]
) -> tuple[CommandRequest, AIBotWhere] | None:
    """An @-mention in a group (or a message in the bot's direct chat) as a command."""
    where = aibot_where(data)
    text = aibot_text(data)
    if where is None or text is None:
        return None
    chat = Destination(AIBOT_CHAT, where.chatid) if where.group else Destination(NAME, where.userid)
    request = CommandRequest(
        text=command_text(text, bot_names),
        sender=Sender(NAME, where.userid),
        chat=chat,
        event_id=f"aibot:{_s(data.get('msgid'))}" if data.get("msgid") else "",
        received_at=now,
    )
    return request, where


def aibot_text(data: Mapping[str, Any]) -> str | None:
    """The typed text of a text, mixed or voice message; None for other kinds."""
    kind = _s(data.get("msgtype"))
    if kind == "text":
        return _s(_m(data.get("text")).get("content"))
    if kind == "voice":
        return _s(_m(data.get("voice")).get("content"))
    if kind == "mixed":
        items = _m(data.get("mixed")).get("msg_item")
        parts = [
            _s(_m(_m(item).get("text")).get("content"))
            for item in (items if isinstance(items, list) else [])
            if _m(item).get("msgtype") == "text"
        ]
        return " ".join(p for p in parts if p)
    return None


def aibot_press(data: Mapping[str, Any], now: datetime) -> tuple[Press, AIBotWhere] | None:
    """A ``template_card_event`` on one of Tocsin's AI-bot cards; None for anything else."""
    event = _m(data.get("event"))
    if _s(data.get("msgtype")) != "event" or _s(event.get("eventtype")) != "template_card_event":
        return None
    body = _m(event.get("template_card_event"))
    # the doc's example says event_key / task_id, its table eventkey / taskid: read both
    raw_key = _s(body.get("event_key")) or _s(body.get("eventkey"))
    task_id = _s(body.get("task_id")) or _s(body.get("taskid"))
    key, where = parse_key(raw_key), aibot_where(data)
    if key is None or where is None or not task_id:
        return None
    msgid = _s(data.get("msgid"))
    press = Press(key, task_id, where.userid, f"aibot:{msgid}" if msgid else "", now)
    return press, where


# -- text -------------------------------------------------------------------------------------


def command_text(text: str, bot_names: Sequence[str]) -> str:
    """``@Tocsin ack 1`` / ``ack 1`` / ``/ack 1`` → ``/ack 1``; nothing → ``/help``.

    WeCom shows the bot's name as people see it, so a leading mention of any name is dropped
    when it is not one of `bot_names`.
    """
    body = split_command(text, bot_names, direct=True)
    rest = (body if body is not None else text).strip()
    if rest == text.strip() and rest[:1] in ("@", "＠"):
        rest = _LEADING_MENTION.sub("", rest, count=1)
    return canonical(rest)


def canonical(text: str) -> str:
    body = text.replace("\u3000", " ").strip()
    if body.startswith(("/", "／")):
        body = body[1:].lstrip()
    return f"/{body}" if body else HELP


def _f(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in fields.items() if k.lower() == lowered), "")
    return value.strip()


def _s(value: object) -> str:
    return value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def _m(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
