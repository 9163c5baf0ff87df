"""The neutral model every platform translates to and from.

Inbound, each platform event becomes a `CommandRequest`, a `CardActionRequest` or is ignored.
Outbound, the core emits `Card` and `Text`; each chat adapter renders them natively.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Tier(enum.StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def rank(self) -> int:
        return int(self.value[1])


class ActionKind(enum.StrEnum):
    ACK = "ack"
    SILENCE = "silence"
    RESOLVE = "resolve"
    ROLLBACK = "rollback"
    UNACK = "unack"
    ESCALATE = "escalate"
    UNSILENCE = "unsilence"
    ACCEPT = "accept"
    DECLINE = "decline"
    CONFIRM = "confirm"
    APPROVE = "approve"
    DENY = "deny"
    CANCEL = "cancel"
    HOLD = "hold"
    PROMOTE = "promote"
    RETRY = "retry"
    REVIEW = "review"
    DONE = "done"
    UNDONE = "undone"


class ButtonStyle(enum.StrEnum):
    PRIMARY = "primary"
    DANGER = "danger"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Button:
    """A card button: pressing it sends `action` with `value` back to the core."""

    label: str
    action: ActionKind
    value: str = ""
    style: ButtonStyle = ButtonStyle.DEFAULT
    confirm: str | None = None
    url: str | None = None
    """Set for platforms that cannot call back: the button opens this signed action link."""


@dataclass(frozen=True, slots=True)
class Field:
    label: str
    value: str


class Tone(enum.StrEnum):
    """What a status means to the reader, which each platform shows in its own colours."""

    ALERT = "alert"
    """Something is wrong now and needs a person (red)."""
    WAITING = "waiting"
    """Waits for a person: a confirmation, an approval, an answer (orange/yellow)."""
    WORKING = "working"
    """In progress, nobody needs to act (blue)."""
    GOOD = "good"
    """Ended well (green)."""
    BAD = "bad"
    """Ended badly: failed, rolled back, denied (red)."""
    MUTED = "muted"
    """Put aside: silenced, cancelled, expired (grey)."""


@dataclass(frozen=True, slots=True)
class Badge:
    """A card's status as the reader sees it: the word in the card's language and its tone."""

    word: str
    tone: Tone


@dataclass(frozen=True, slots=True)
class Link:
    """A link the reader may open (runbook, dashboard, source); renderers show it as a URL
    button or a link, within the platform's limits."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Section:
    """A headed block of lines below a card's fields (a review's timeline, say). Lines are plain
    text; a line starting with "[ ] " or "[x] " is a checklist item."""

    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Card:
    """A platform-neutral card. `ref` names what the card shows (e.g. ``incident:42``)."""

    ref: str
    title: str
    tier: Tier | None
    status: str
    fields: tuple[Field, ...] = ()
    body: str = ""
    buttons: tuple[Button, ...] = ()
    footer: str = ""
    badge: Badge | None = None
    """`status` as words and tone; every card the core makes has one."""
    links: tuple[Link, ...] = ()
    sections: tuple[Section, ...] = ()
    mentions: tuple[str, ...] = ()
    """People to @-mention where the card is posted: ids on the destination's platform (set
    by whoever addresses the card to a chat, e.g. a group's on-call people)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "title": self.title,
            "tier": self.tier.value if self.tier else None,
            "status": self.status,
            "fields": [{"label": f.label, "value": f.value} for f in self.fields],
            "body": self.body,
            "buttons": [
                {
                    "label": b.label,
                    "action": b.action.value,
                    "value": b.value,
                    "style": b.style.value,
                    "confirm": b.confirm,
                    "url": b.url,
                }
                for b in self.buttons
            ],
            "footer": self.footer,
            "badge": {"word": self.badge.word, "tone": self.badge.tone.value}
            if self.badge
            else None,
            "links": [{"label": link.label, "url": link.url} for link in self.links],
            "sections": [{"title": s.title, "lines": list(s.lines)} for s in self.sections],
            "mentions": list(self.mentions),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Card:
        return cls(
            ref=data["ref"],
            title=data["title"],
            tier=Tier(data["tier"]) if data.get("tier") else None,
            status=data["status"],
            fields=tuple(Field(f["label"], f["value"]) for f in data.get("fields", ())),
            body=data.get("body", ""),
            buttons=tuple(
                Button(
                    label=b["label"],
                    action=ActionKind(b["action"]),
                    value=b.get("value", ""),
                    style=ButtonStyle(b.get("style", "default")),
                    confirm=b.get("confirm"),
                    url=b.get("url"),
                )
                for b in data.get("buttons", ())
            ),
            footer=data.get("footer", ""),
            badge=Badge(data["badge"]["word"], Tone(data["badge"]["tone"]))
            if data.get("badge")
            else None,
            links=tuple(Link(k["label"], k["url"]) for k in data.get("links", ())),
            sections=tuple(
                Section(s["title"], tuple(s["lines"])) for s in data.get("sections", ())
            ),
            mentions=tuple(data.get("mentions", ())),
        )


@dataclass(frozen=True, slots=True)
class Destination:
    """A chat on a platform, e.g. ``console:ops`` or ``slack:C024BE91L``."""

    platform: str
    chat: str

    @classmethod
    def parse(cls, text: str) -> Destination:
        platform, sep, chat = text.partition(":")
        if not sep or not platform or not chat:
            raise ValueError(f"destination must look like 'platform:chat', got {text!r}")
        return cls(platform, chat)

    def __str__(self) -> str:
        return f"{self.platform}:{self.chat}"


@dataclass(frozen=True, slots=True)
class Sender:
    """Who did something, as the platform knows them."""

    platform: str
    platform_user_id: str
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A chat command such as ``/deploy orders v1.4.2 prod``, already stripped of any @-mention."""

    text: str
    sender: Sender
    chat: Destination
    event_id: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class CardActionRequest:
    """A button pressed on a card (or an action link opened)."""

    action: ActionKind
    card_ref: str
    value: str
    sender: Sender
    chat: Destination
    event_id: str
    received_at: datetime
    via: str = ""
    """How the press came when it was not a chat's button: ``sms_reply``, ``voice_key`` or
    ``link:<channel>`` (an action link in an SMS or e-mail); "" is the chat's platform."""


@dataclass(frozen=True, slots=True)
class Reply:
    """The core's answer to a command or action. `private` replies go only to the sender."""

    text: str
    private: bool = False
    card: Card | None = None
    ok: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
