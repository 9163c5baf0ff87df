"""The on-call calculator's values: run-time overrides, segments of a timeline, and instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Override:
    """Someone on call instead of the rotations for [start, end), added at run time."""

    user: str
    start: datetime
    end: datetime
    id: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Segment:
    """[start, end) with one person on call, or nobody (`user` None, `source` "")."""

    start: datetime
    end: datetime
    user: str | None
    source: str
    """The rotation's name, "override", or "" when nobody is on call."""


def utc(when: datetime, what: str = "time") -> datetime:
    """`when` as an aware UTC datetime; naive input is refused."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {when.isoformat()}")
    return when.astimezone(UTC)


def from_wall(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive wall time in `zone` (fold=0: a time in a spring-forward gap
    maps forward, an ambiguous one takes its first occurrence)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def to_wall(when: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall time in `zone` at an aware instant."""
    return when.astimezone(zone).replace(tzinfo=None)


def in_gap(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether a naive wall time never shows on the clocks of `zone` (a spring-forward gap)."""
    return to_wall(from_wall(wall, zone), zone) != wall


def instant(when: datetime, zone: ZoneInfo) -> datetime:
    """An aware datetime in UTC; a naive one is read as wall time in `zone`."""
    return from_wall(when, zone) if when.tzinfo is None else when.astimezone(UTC)


def span(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """A query range in UTC; `end` before `start` is refused."""
    start, end = utc(start, "start"), utc(end, "end")
    if end < start:
        raise ValueError(f"range ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    return start, end
