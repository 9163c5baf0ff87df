"""Reading what Datadog writes for people: event titles, messages, scopes and epoch times.

An event title reads ``[P1] [Triggered on {host:web-1,env:prod}] Disk is full``: optional
bracketed prefixes (the monitor's priority, ``[TEST]`` for a test notification, the transition
with the group it fired on) before the monitor's name. Datadog's default payload carries no
other trace of the transition, the group or the priority, so they are read from there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from adapters.sources._common import unix_time
from bot.errors import InputError

FIRING = frozenset(
    {"triggered", "re-triggered", "warn", "re-warn", "no data", "re-no data", "renotify"}
)
RESOLVED = frozenset({"recovered"})
IGNORED = frozenset({"null"})
"""Transitions that neither start nor end an alert."""
WARN = frozenset({"warn", "re-warn"})
STARTS = frozenset({"triggered", "warn", "no data"})
"""Transitions that open a state: the notification's date is when the problem began."""
KNOWN = FIRING | RESOLVED | IGNORED

_BRACKET = re.compile(r"\s*\[(?P<inner>[^\[\]{}]*(?:\{[^{}]*\})?[^\[\]{}]*)\]")
_TRANSITION = re.compile(r"(?P<word>[A-Za-z][A-Za-z -]*?)(?: on \{(?P<scope>[^{}]*)\})?")
PRIORITY = re.compile(r"[Pp][1-5]")
_UNFILLED = re.compile(r"\$[A-Z][A-Z0-9_]*(?:\[[^\]]*\])?")
_EPOCH = re.compile(r"[0-9]{1,18}")
_MONITOR_LINK = re.compile(r"https?://[^\s()\[\]<>]+/monitors[/#](?P<id>[0-9]+)[^\s()\[\]<>]*")
_IMAGE_LINE = re.compile(r"^[ \t]*\[!\[[^\]\n]*\]\([^)\n]*\)\]\([^)\n]*\)[ \t]*$", re.MULTILINE)
_MENTIONS_LINE = re.compile(r"^[ \t]*(?:@[\w.\-]+[ \t]*)+$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_FOOTER = "\n- - -\n"
MESSAGE_CHARS = 1500
"""The description keeps this much of the monitor's message (a card is read on a phone)."""


def transition_key(word: str) -> str:
    """A transition as compared: ``Re-No  Data`` → ``re-no data``."""
    return " ".join(word.lower().split())


@dataclass(frozen=True, slots=True)
class Title:
    name: str
    transition: str = ""
    """As written (``Triggered``); empty when the title names none."""
    scope: str = ""
    priority: str = ""
    test: bool = False


def read_title(title: str) -> Title:
    """The parts of an event title; prefixes it does not know end the prefixes, so a monitor
    named ``[Synthetics] Checkout`` keeps its name."""
    rest, transition, scope, priority, test = title, "", "", "", False
    while match := _BRACKET.match(rest):
        inner = match["inner"].strip()
        word = _TRANSITION.fullmatch(inner)
        if PRIORITY.fullmatch(inner) and not priority:
            priority = inner.upper()
        elif inner.upper() == "TEST":
            test = True
        elif word and transition_key(word["word"]) in KNOWN and not transition:
            transition, scope = word["word"], word["scope"] or ""
        else:
            break
        rest = rest[match.end() :]
    return Title(rest.strip(), transition, scope_of(scope), priority, test)


def scope_of(text: str) -> str:
    """A group as ``key:value`` tags sorted and comma-joined (Datadog writes one group's tags
    in varying orders); the whole-monitor scope ``*`` and nothing are ``""``."""
    parts = sorted({part.strip() for part in text.split(",") if part.strip()})
    return "" if parts in ([], ["*"]) else ",".join(parts)


def name_of(title: Title, alert_title: str, scope: str) -> str:
    """The monitor's name: the event title's, else `$ALERT_TITLE` without its `` on <group>``."""
    if title.name:
        return title.name
    own = read_title(alert_title).name
    head, sep, tail = own.rpartition(" on ")
    if sep and scope and head.strip() and scope_of(tail) == scope:
        return head.strip()
    return own


def unfilled(text: str) -> bool:
    """Whether `text` is a variable Datadog left as written (``$ALERT_PRIORITY``), as it does
    for a variable the notification has no value for."""
    return bool(_UNFILLED.fullmatch(text))


def epoch(text: str, where: str) -> datetime | None:
    """`$DATE` / `$LAST_UPDATED`: epoch milliseconds (epoch seconds are taken too)."""
    if not text:
        return None
    if not _EPOCH.fullmatch(text):
        raise InputError(f"{where}: must be epoch milliseconds like 1406662672000, got {text!r}")
    number = int(text)
    return unix_time(number, where, per_second=1000 if number >= 10**11 else 1)


def monitor_link(message: str) -> tuple[str, str]:
    """The first link to a monitor in a message (Datadog's ``[Monitor Status](…)``) and the
    monitor's id, or ``("", "")``."""
    match = _MONITOR_LINK.search(message)
    return (match[0], match["id"]) if match else ("", "")


def message_text(message: str) -> str:
    """`$EVENT_MSG` as a card's description: without the ``%%%`` Markdown fences, Datadog's
    footer of links, the graph image and lines of bare @-mentions; cut to `MESSAGE_CHARS`."""
    text = message.strip()
    text = text.removeprefix("%%%").removesuffix("%%%")
    head, footer, _ = text.rpartition(_FOOTER)
    if footer:
        text = head
    text = _MENTIONS_LINE.sub("", _IMAGE_LINE.sub("", text))
    text = _BLANK_LINES.sub("\n\n", text).strip()
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1].rstrip() + "…"
