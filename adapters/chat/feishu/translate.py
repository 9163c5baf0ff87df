"""Feishu events (schema 2.0, as plain dicts) as the neutral requests the core speaks. Pure, no I/O.

Every command reaches the core in one canonical form, ``/<command> <arguments>``, however it was
typed: ``@Tocsin /deploy orders v1.4.2 prod`` or ``@Tocsin deploy orders v1.4.2 prod`` in a group,
``deploy orders v1.4.2 prod`` in a direct message. So the core parses, authorizes and audits them
identically. Text and rich-text (``post``) messages are read; other kinds are ignored.

In a group, a message is for the bot when it @-mentions the bot (by its open_id, once known; until
then, a message that starts with a mention is taken as addressed, which is what Feishu delivers
to apps without the ``im:message.group_msg`` permission). The bot's mentions are removed and other
people's become ``@Name``.

De-duplication ids (the core records each once): ``message:<message_id>`` for messages (Feishu's
re-deliveries carry the same message id, as its documentation advises to de-duplicate on) and
``action:<event_id>`` for button presses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.chat.feishu.ids import sender_id
from adapters.chat.feishu.platform import NAME
from adapters.chat.feishu.render import parse_value
from bot.grammar import split_command
from bot.model import CardActionRequest, CommandRequest, Destination, Sender

HELP = "/help"
_PLACEHOLDER = re.compile(r"@_user_\d+|@_all")
_SPACES = re.compile(r"[ \t]{2,}")


@dataclass(frozen=True, slots=True)
class Where:
    """Where to answer an inbound event."""

    chat_id: str
    user: str
    """The sender's open_id: private answers go to them directly."""
    message_id: str = ""
    """The message to answer under: the command's message, or the card a button is on."""
    direct: bool = False
    """A one-to-one chat with the bot: every answer may go in it."""
    in_thread: bool = False
    """The command was written in a thread: answer inside it."""


def message_command(
    envelope: Mapping[str, Any],
    now: datetime,
    *,
    known: Collection[str],
    bot_open_id: str | None,
    bot_names: Sequence[str],
) -> tuple[CommandRequest, Where] | None:
    """An ``im.message.receive_v1`` event as a command; None when it is not for the bot."""
    event = _m(envelope.get("event"))
    sender, message = _m(event.get("sender")), _m(event.get("message"))
    ids = _m(sender.get("sender_id"))
    who, chat, message_id = (
        sender_id(ids, known),
        _s(message.get("chat_id")),
        _s(message.get("message_id")),
    )
    if sender.get("sender_type") != "user" or not who or not chat or not message_id:
        return None
    raw = typed_text(_s(message.get("message_type")), _s(message.get("content")))
    if raw is None:
        return None
    direct = message.get("chat_type") == "p2p"
    text, mentioned = resolve_mentions(raw, _mentions(message.get("mentions")), bot_open_id)
    if not (direct or mentioned):
        return None
    body = split_command(text, bot_names, direct=True)
    request = CommandRequest(
        text=canonical(body or ""),
        sender=Sender(NAME, who),
        chat=Destination(NAME, chat),
        event_id=f"message:{message_id}",
        received_at=now,
    )
    where = Where(
        chat,
        _s(ids.get("open_id")),
        message_id=message_id,
        direct=direct,
        in_thread=bool(_s(message.get("thread_id"))),
    )
    return request, where


def card_action(
    envelope: Mapping[str, Any], now: datetime, *, known: Collection[str]
) -> tuple[CardActionRequest, Where] | None:
    """A ``card.action.trigger`` press of a Tocsin button; None for anything else."""
    event = _m(envelope.get("event"))
    value = parse_value(_m(event.get("action")).get("value"))
    operator, context = _m(event.get("operator")), _m(event.get("context"))
    who, chat = sender_id(operator, known), _s(context.get("open_chat_id"))
    event_id = _s(_m(envelope.get("header")).get("event_id"))
    if value is None or not who or not chat:
        return None
    request = CardActionRequest(
        action=value.action,
        card_ref=value.card_ref,
        value=value.value,
        sender=Sender(NAME, who),
        chat=Destination(NAME, chat),
        event_id=f"action:{event_id}" if event_id else "",
        received_at=now,
    )
    where = Where(chat, _s(operator.get("open_id")), message_id=_s(context.get("open_message_id")))
    return request, where


# -- text -------------------------------------------------------------------------------------


def typed_text(message_type: str, content: str) -> str | None:
    """What was typed in a text or rich-text message, mentions as their ``@_user_N`` keys."""
    try:
        data = json.loads(content) if content else {}
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if message_type == "text":
        return _s(data.get("text"))
    if message_type == "post":
        return _post_text(data)
    return None


def _post_text(data: Mapping[str, Any]) -> str:
    if "content" not in data:  # a post per language: take the first
        data = next((_m(v) for v in data.values() if isinstance(v, Mapping)), {})
    lines = []
    for paragraph in data.get("content") or ():
        runs = []
        for run in paragraph if isinstance(paragraph, list) else ():
            run = _m(run)
            if run.get("tag") == "at":
                runs.append(_s(run.get("user_id")))
            elif run.get("tag") in ("text", "a", "code_block"):
                runs.append(str(run.get("text") or ""))
        lines.append("".join(runs))
    return "\n".join(lines).strip()


def resolve_mentions(
    text: str, mentions: Sequence[Mapping[str, Any]], bot_open_id: str | None
) -> tuple[str, bool]:
    """What follows the bot's first mention, its other mentions removed and other people's as
    ``@Name``; and whether the bot was mentioned at all."""
    by_key = {_s(m.get("key")): m for m in mentions if _s(m.get("key"))}
    if bot_open_id:
        bot_keys = {
            key for key, m in by_key.items() if _s(_m(m.get("id")).get("open_id")) == bot_open_id
        }
    else:
        bot_keys = set(_leading_keys(text))

    def name(match: re.Match[str]) -> str:
        key = match.group(0)
        if key in bot_keys:
            return ""
        found = by_key.get(key)
        if found is None:
            return key
        return "@" + (_s(found.get("name")) or _s(_m(found.get("id")).get("open_id")) or "?")

    found_at = [m.start() for m in _PLACEHOLDER.finditer(text) if m.group(0) in bot_keys]
    mentioned = bool(found_at)
    if found_at:  # what follows the first mention of the bot ("hey @Tocsin ack 1" → "ack 1")
        text = text[found_at[0] :]
    return _SPACES.sub(" ", _PLACEHOLDER.sub(name, text)).strip(), mentioned


def _leading_keys(text: str) -> list[str]:
    keys, rest = [], text.strip()
    while match := _PLACEHOLDER.match(rest):
        keys.append(match.group(0))
        rest = rest[match.end() :].lstrip()
    return [key for key in keys if key != "@_all"]


def canonical(text: str) -> str:
    """``ack 1`` or ``/ack 1`` → ``/ack 1``; nothing → ``/help``."""
    body = text.strip()
    if body.startswith(("/", "／")):
        body = body[1:].lstrip()
    return f"/{body}" if body else HELP


def _mentions(raw: object) -> list[Mapping[str, Any]]:
    return [m for m in raw if isinstance(m, Mapping)] if isinstance(raw, list) else []


def _s(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _m(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
