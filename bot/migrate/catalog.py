"""What a vendor's reader finds in the old tool, in the old tool's terms but Tocsin's shapes.

People are referred to by their origin id (the old tool's user id) until `bot.migrate.convert`
matches them with Tocsin users; schedules, policies and teams keep their origin ids for the
comments of the file to merge and for `tocsin import verify`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Literal

from bot.settings.oncall import WEEKDAYS, Restriction, Weekday

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Person:
    origin: str
    name: str
    email: str = ""
    time_zone: str | None = None
    phone: str | None = None
    """E.164, when the old tool has a verified one."""


@dataclass(frozen=True, slots=True)
class Team:
    origin: str
    name: str
    members: tuple[str, ...]
    """Person origin ids."""


@dataclass(frozen=True, slots=True)
class Layer:
    """One rotation: `participants` (person origin ids) take turns of `shift`, the first turn
    starting at `start` (naive: wall time in `time_zone`; aware: that instant)."""

    origin: str
    name: str
    participants: tuple[str, ...]
    shift: timedelta
    start: datetime
    time_zone: str | None = None
    restrictions: tuple[Restriction, ...] = ()


@dataclass(frozen=True, slots=True)
class Cover:
    """An override: `person` on call over [start, end) (aware instants)."""

    person: str
    start: datetime
    end: datetime
    origin: str = ""


@dataclass(frozen=True, slots=True)
class Rota:
    """A schedule. `layers` lowest first: where two have someone, the later one wins."""

    origin: str
    name: str
    time_zone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Cover, ...] = ()
    team: str | None = None
    ical_url: str | None = None
    """The old tool's iCal feed of this schedule, when it publishes one."""


TargetKind = Literal["user", "schedule", "team"]


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    origin: str


@dataclass(frozen=True, slots=True)
class Step:
    """Page `targets`; wait `delay` for an acknowledgement before the next step."""

    targets: tuple[Target, ...]
    delay: timedelta
    round_robin: bool = False


@dataclass(frozen=True, slots=True)
class Chain:
    """An escalation policy: its steps, run again `repeat` more times while nobody
    acknowledges."""

    origin: str
    name: str
    steps: tuple[Step, ...]
    repeat: int = 0
    team: str | None = None


@dataclass(frozen=True, slots=True)
class Routing:
    """Alerts for a service (the `service` label) go to a policy (its origin id)."""

    origin: str
    name: str
    service: str
    policy: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something the old tool has that Tocsin's configuration cannot carry, and why."""

    kind: str
    """What it is, e.g. "notification rule", "escalation rule", "schedule layer"."""
    origin: str
    name: str
    reason: str


@dataclass(slots=True)
class Catalog:
    vendor: str
    people: list[Person] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    schedules: list[Rota] = field(default_factory=list)
    policies: list[Chain] = field(default_factory=list)
    routes: list[Routing] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    differences: list[Skipped] = field(default_factory=list)
    """Things carried over that will not behave exactly as in the old tool, and how."""

    def skip(self, kind: str, origin: str, name: str, reason: str) -> None:
        """`name` (the old tool's `kind` `origin`) cannot be carried over, for `reason`."""
        self.skipped.append(Skipped(kind, origin, name, reason))

    def differ(self, kind: str, origin: str, name: str, reason: str) -> None:
        """`name` is carried over, but differs from the old tool as `reason` says."""
        self.differences.append(Skipped(kind, origin, name, reason))

    def person(self, origin: str) -> Person | None:
        return next((p for p in self.people if p.origin == origin), None)

    def by_email(self, email: str) -> Person | None:
        wanted = email.strip().lower()
        return next((p for p in self.people if p.email.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class Shift:
    """From the old tool's own "who is on call": `person` (an origin id, or an e-mail address
    when the tool names someone it did not list) over [start, end), aware instants."""

    start: datetime
    end: datetime
    person: str


def weekly_windows(first: Weekday, opens: time, length: timedelta) -> tuple[Restriction, ...]:
    """A window opening each week on `first` at `opens` (local wall time) for `length`, as
    Tocsin restrictions (one per calendar day it touches; neighbours merge back into one
    window). `length` is wall-clock time, at most a week."""
    if not timedelta(0) < length <= 7 * _DAY:
        raise ValueError(f"a weekly window lasts more than 0 and at most 7 days, not {length}")
    day = WEEKDAYS.index(first)
    begin = timedelta(hours=opens.hour, minutes=opens.minute, seconds=opens.second)
    finish = begin + length
    out: list[Restriction] = []
    offset = timedelta(0)
    while offset < finish:
        lo, hi = max(begin, offset), min(finish, offset + _DAY)
        if lo < hi:
            out.append(
                Restriction(
                    days=(WEEKDAYS[(day + offset.days) % 7],),
                    start=_clock(lo - offset),
                    end=_clock(hi - offset),
                )
            )
        offset += _DAY
    return tuple(out)


def daily_windows(opens: time, length: timedelta) -> tuple[Restriction, ...]:
    """A window opening every day at `opens` for `length` (at most a day)."""
    if not timedelta(0) < length <= _DAY:
        raise ValueError(f"a daily window lasts more than 0 and at most a day, not {length}")
    begin = timedelta(hours=opens.hour, minutes=opens.minute, seconds=opens.second)
    return (Restriction(start=_clock(begin), end=_clock(begin + length)),)


def _clock(offset: timedelta) -> time:
    """The wall time `offset` after a midnight (a whole day is midnight again)."""
    seconds = int(offset.total_seconds()) % 86400
    return time(seconds // 3600, seconds % 3600 // 60, seconds % 60)
