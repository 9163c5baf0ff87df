"""Settings for on-call: schedules (rotations, restrictions, overrides), escalation policies,
groups and paging channels. The maths that reads them lives in `bot.oncall`."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from bot.model import Destination, Tier
from bot.settings.durations import Duration, parse_duration, parse_setting

Channel = Literal["chat", "sms", "voice", "email"]
CHANNELS: tuple[Channel, ...] = ("chat", "sms", "voice", "email")
PAGER_CHANNELS: tuple[Channel, ...] = ("sms", "voice", "email")
"""The channels a provider of `pagers` sends (chat pages go through the outbox)."""
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like Asia/Shanghai)"
        ) from None
    return name


TimeZone = Annotated[str, BeforeValidator(lambda v: _zone(str(v)))]

_SHIFT_WORDS = {"hourly": "1h", "daily": "1d", "weekly": "1w"}


def _shift(value: Any) -> Any:
    if isinstance(value, str):
        value = _SHIFT_WORDS.get(value.strip().lower(), value)
    return parse_setting(value)


class Restriction(_Frozen):
    """When a rotation's person is on call, in the rotation's local time: a window opens on each
    listed day at `start`; `end` at or before `start` closes it the next day, and equal times
    make it 24 wall-clock hours (00:00–00:00 is the calendar day)."""

    days: tuple[Weekday, ...] = WEEKDAYS
    start: time = time(0, 0)
    end: time = time(0, 0)


class Rotation(_Frozen):
    """One layer of a schedule: participants take turns, handing off at local wall time."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    participants: tuple[str, ...] = Field(min_length=1)
    shift: Annotated[timedelta, BeforeValidator(_shift)] = timedelta(weeks=1)
    """Length of a turn, counted in wall-clock time of `time_zone` (``daily``, ``weekly``,
    ``12h``…): a hand-off stays at its local time across daylight-saving changes."""
    start: datetime
    """The first hand-off, as local wall time in `time_zone` (an offset, if given, is honoured)."""
    time_zone: TimeZone | None = None
    """Defaults to the schedule's."""
    restrictions: tuple[Restriction, ...] = ()
    """When set, the layer has someone on call only inside these windows (lower layers show
    through outside them): working hours, weekdays, a region's daytime for follow-the-sun."""

    @field_validator("shift")
    @classmethod
    def _positive(cls, shift: timedelta) -> timedelta:
        if shift < timedelta(minutes=15):
            raise ValueError("a shift lasts at least 15 minutes")
        return shift


class FixedOverride(_Frozen):
    """Someone on call instead of the rotations for a time range (from the configuration;
    `/oncall override` adds them at run time). Times without an offset are the schedule's
    local wall time."""

    user: str
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _order(self) -> FixedOverride:
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise ValueError("give both start and end with an offset, or neither")
        if self.end <= self.start:
            raise ValueError("an override ends after it starts")
        return self


class Schedule(_Frozen):
    time_zone: TimeZone = "UTC"
    rotations: tuple[Rotation, ...] = Field(min_length=1)
    """Layers, lowest first: where two have someone on call, the later one wins."""
    overrides: tuple[FixedOverride, ...] = ()
    announce: tuple[Annotated[Destination, BeforeValidator(lambda v: _dest(v))], ...] = ()
    """Chats told about hand-offs and about gaps in the coming week."""
    chat_groups: dict[Literal["slack", "feishu", "dingtalk", "wecom"], str] = {}
    """Chat groups kept in step with who is on call, by platform: a Slack user group's id
    (``S0123ABCD``), a Feishu/Lark chat (``oc_…``) whose members follow the rotation, or a
    DingTalk/WeCom group chat whose on-call @-mentions follow it."""


def _dest(value: Any) -> Destination:
    return value if isinstance(value, Destination) else Destination.parse(str(value))


TARGET_KINDS = ("user", "schedule", "group", "chat")


def _target(value: Any) -> str:
    text = str(value).strip()
    kind, sep, name = text.partition(":")
    if not sep or kind not in TARGET_KINDS or not name:
        raise ValueError(
            f"target {text!r} must be user:<id>, schedule:<name>, group:<name> "
            "or chat:<platform>:<chat>"
        )
    if kind == "chat":
        Destination.parse(name)
    return text


Target = Annotated[str, BeforeValidator(_target)]


class EscalationStep(_Frozen):
    targets: tuple[Target, ...] = Field(min_length=1)
    delay: Duration = timedelta(minutes=15)
    """How long to wait for an acknowledgement before the next step."""
    round_robin: bool = False
    """Page one of the step's people, the next one for each new incident."""

    @field_validator("delay")
    @classmethod
    def _delay(cls, delay: timedelta) -> timedelta:
        if delay < timedelta(seconds=30):
            raise ValueError("a step waits at least 30s")
        return delay


class EscalationPolicy(_Frozen):
    steps: tuple[EscalationStep, ...] = Field(min_length=1)
    repeat: int = Field(0, ge=0, le=10)
    """Run the steps again this many times while nobody acknowledges."""


class Window(_Frozen):
    count: int = Field(ge=1)
    per: Duration


def _default_channels() -> dict[Tier, tuple[Channel, ...]]:
    return {
        Tier.P0: ("chat", "sms", "voice", "email"),
        Tier.P1: ("chat", "sms", "email"),
        Tier.P2: ("chat", "email"),
        Tier.P3: ("chat",),
    }


def _default_limits() -> dict[Channel, tuple[Window, ...]]:
    def w(count: int, per: str) -> Window:
        return Window(count=count, per=parse_duration(per))

    return {
        "sms": (w(1, "1m"), w(5, "15m"), w(11, "1h")),
        "voice": (w(1, "1m"), w(3, "15m"), w(7, "1h")),
        "email": (w(1, "1m"), w(10, "15m")),
        "chat": (w(30, "1m"),),
    }


class Paging(_Frozen):
    channels: dict[Tier, tuple[Channel, ...]] = Field(default_factory=_default_channels)
    """Channels each paged person is reached on, by the incident's tier (a person's own
    `notify` wins; a channel they have no address for is skipped, and says so)."""
    rate_limits: dict[Channel, tuple[Window, ...]] = Field(default_factory=_default_limits)
    """Per person and channel: pages over a window wait until it has room (never dropped)."""
    default_policy: str | None = None
    """Policy for routes that name none; unset means such incidents page nobody."""
    link_ttl: Duration = timedelta(hours=12)
    """How long the acknowledge link in an e-mail or SMS works."""
    gap_horizon: Duration = timedelta(days=7)
    """Schedules are checked this far ahead for times with nobody on call."""
    max_attempts: int = Field(6, ge=1)
    """Tries per SMS / voice / e-mail page before it is recorded as failed."""


class Contact(_Frozen):
    """How a person is paged: addresses per channel and, optionally, their own channels."""

    phone: str | None = Field(None, pattern=r"^\+[1-9][0-9]{6,14}$")
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    chat: tuple[str, ...] | None = None
    """Chat platforms to page on (default: every connected platform they have an identity on,
    else the console)."""
    notify: dict[Tier, tuple[Channel, ...]] = {}
    """Channels by tier for this person, instead of `paging.channels`."""
    providers: dict[Literal["sms", "voice"], tuple[str, ...]] = {}
    """Per channel, the providers (their `pagers` names) to try first for this person, in
    order, e.g. ``{sms: [twilio]}`` for a number abroad; the channel's other providers follow
    in their configured order."""
