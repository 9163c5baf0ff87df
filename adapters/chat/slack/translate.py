"""Slack payloads as the neutral requests the core speaks. Pure functions, no I/O.

Every command reaches the core in one canonical form, ``/<command> <arguments>``, however it was
typed: ``/deploy orders v1.4.2 prod`` as a slash command, ``@Tocsin deploy orders v1.4.2 prod`` as a
mention, ``deploy orders v1.4.2 prod`` in a direct message. So the core parses, authorizes and
audits them identically. ``/tocsin <command …>`` names any command; ``/tocsin`` alone and any
slash command Tocsin does not know become ``/help``.

De-duplication ids (the core records each once): ``event:<event_id>`` for the Events API (Slack's
retries carry the same id), ``command:<trigger_id>`` for slash commands and
``action:<trigger_id>:<action_ts>`` for button presses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.chat.slack.platform import NAME
from adapters.chat.slack.render import parse_value
from adapters.edge.buttons import ButtonValue
from bot.grammar import split_command
from bot.model import CardActionRequest, CommandRequest, Destination, Sender

COMMANDS = frozenset({"deploy", "rollback", "ack", "silence", "oncall", "incident"})
"""Slash commands that name a core command directly (the manifest registers each)."""
UMBRELLA = "tocsin"
HELP = "/help"

_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


@dataclass(frozen=True, slots=True)
class Where:
    """Where to answer an inbound request. It is the request's route in the inbox
    (`bot.inbox.codec.pack`), so any replica can answer a request another one accepted."""

    channel: str
    user: str
    thread_ts: str | None = None
    """The thread to answer in (a card's ts for a button, the thread a mention was in)."""
    direct: bool = False
    """A direct-message conversation: every answer may go in it as a plain message."""
    private_in_thread: bool = True
    """Whether a private answer goes into `thread_ts` too (not for a card: the presser looks at
    the card, not its thread)."""
    response_url: str | None = None
    """A slash command's ``response_url``: its answer goes there (valid for 30 minutes)."""


def slash_command(body: Mapping[str, Any], now: datetime) -> tuple[CommandRequest, Where]:
    """A slash command (HTTP form fields or the Socket Mode payload)."""
    user, channel = _s(body.get("user_id")), _s(body.get("channel_id"))
    text = slash_text(_s(body.get("command")), _s(body.get("text")))
    request = CommandRequest(
        text=text,
        sender=Sender(NAME, user, _s(body.get("user_name"))),
        chat=Destination(NAME, channel),
        event_id=f"command:{_s(body.get('trigger_id'))}" if body.get("trigger_id") else "",
        received_at=now,
    )
    response_url = _s(body.get("response_url")) or None
    return request, Where(channel, user, direct=channel.startswith("D"), response_url=response_url)


def slash_text(command: str, text: str) -> str:
    """``/deploy`` + ``orders v1.4.2 prod`` → ``/deploy orders v1.4.2 prod``."""
    name = command.strip().lstrip("/").lower()
    if name in COMMANDS:
        return f"/{name} {text.strip()}".strip()
    if name == UMBRELLA:
        return canonical(text)
    return HELP


def message_command(
    event: Mapping[str, Any],
    event_id: str,
    now: datetime,
    *,
    bot_user_id: str | None,
    bot_names: Sequence[str],
) -> tuple[CommandRequest, Where] | None:
    """An ``app_mention`` or a direct message as a command; None when it is not for the bot."""
    user, channel = _s(event.get("user")), _s(event.get("channel"))
    if not user or not channel or event.get("bot_id") or event.get("subtype"):
        return None
    direct = event.get("channel_type") == "im"
    text = after_mention(_s(event.get("text")), bot_user_id)
    body = split_command(plain_text(text), bot_names, direct=True)
    request = CommandRequest(
        text=canonical(body or ""),
        sender=Sender(NAME, user),
        chat=Destination(NAME, channel),
        event_id=f"event:{event_id}" if event_id else "",
        received_at=now,
    )
    thread = _s(event.get("thread_ts")) or None
    return request, Where(channel, user, thread_ts=thread, direct=direct)


def card_action(
    body: Mapping[str, Any], action: Mapping[str, Any], now: datetime
) -> tuple[CardActionRequest, Where] | None:
    """A ``block_actions`` button press on a Tocsin card; None for anything else."""
    value: ButtonValue | None = parse_value(action.get("value"))
    user = _s(_m(body.get("user")).get("id"))
    container = _m(body.get("container"))
    channel = _s(_m(body.get("channel")).get("id")) or _s(container.get("channel_id"))
    if value is None or not user or not channel:
        return None
    message_ts = _s(container.get("message_ts")) or _s(_m(body.get("message")).get("ts"))
    stamp = _s(action.get("action_ts")) or message_ts
    trigger = _s(body.get("trigger_id"))
    request = CardActionRequest(
        action=value.action,
        card_ref=value.card_ref,
        value=value.value,
        sender=Sender(NAME, user, _s(_m(body.get("user")).get("name"))),
        chat=Destination(NAME, channel),
        event_id=f"action:{trigger}:{stamp}" if (trigger or stamp) else "",
        received_at=now,
    )
    ephemeral = bool(container.get("is_ephemeral"))
    thread = None if ephemeral or not message_ts else message_ts
    where = Where(
        channel, user, thread_ts=thread, direct=channel.startswith("D"), private_in_thread=False
    )
    return request, where


# -- text -------------------------------------------------------------------------------------


def canonical(text: str) -> str:
    """``ack 1`` or ``/ack 1`` → ``/ack 1``; nothing → ``/help``."""
    body = text.strip()
    if body.startswith(("/", "／")):
        body = body[1:].lstrip()
    return f"/{body}" if body else HELP


def after_mention(text: str, bot_user_id: str | None) -> str:
    """What follows the first mention of the bot (``hey <@UBOT> ack 1`` → ``ack 1``)."""
    if bot_user_id:
        found = re.search(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", text)
        if found:
            return text[found.end() :].lstrip().lstrip(":：,，").lstrip()
    return text


def plain_text(text: str) -> str:
    """Slack's message markup as typed: links as their label, ``&lt;`` as ``<``.

    User mentions (``<@U…>``) stay, so the core's grammar can still see them.
    """

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "!")):
            return match.group(0)
        if target.startswith("#"):
            return f"#{label}" if label else target
        return label if label else target

    linked = _LINK.sub(link, text)
    return linked.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _s(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _m(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
