"""One rotation's turns: wall-clock arithmetic in the rotation's zone, found without iterating
from the rotation's start."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.oncall.model import Segment, from_wall, in_gap, to_wall
from bot.settings.oncall import Rotation


class Turns:
    """A rotation resolved against its zone: hand-off k (any integer, negative ones before
    `start` too) is at wall time `start + k * shift` and belongs to participant k mod n."""

    __slots__ = ("name", "origin", "participants", "shift", "zone")

    def __init__(self, rotation: Rotation, default_zone: str) -> None:
        self.zone = ZoneInfo(rotation.time_zone or default_zone)
        self.name = rotation.name
        self.participants = rotation.participants
        self.shift = rotation.shift
        start = rotation.start
        self.origin = start if start.tzinfo is None else to_wall(start, self.zone)

    def wall(self, k: int) -> datetime:
        return self.origin + k * self.shift

    def handoff(self, k: int) -> datetime:
        """Hand-off k in UTC. A wall time in a spring-forward gap maps forward (fold=0) but never
        past a later hand-off, so hand-offs stay in order; a turn whose two hand-offs meet is
        empty."""
        wall = self.wall(k)
        at = from_wall(wall, self.zone)
        if to_wall(at, self.zone) == wall:
            return at
        after = k + 1
        while in_gap(self.wall(after), self.zone):
            after += 1
        return min(at, from_wall(self.wall(after), self.zone))

    def index_at(self, when: datetime) -> int:
        """The k with handoff(k) <= when < handoff(k + 1)."""
        k = (to_wall(when, self.zone) - self.origin) // self.shift
        while self.handoff(k) > when:
            k -= 1
        while self.handoff(k + 1) <= when:
            k += 1
        return k

    def who(self, k: int) -> str:
        return self.participants[k % len(self.participants)]

    def between(self, start: datetime, end: datetime) -> Iterator[Segment]:
        """The non-empty turns overlapping [start, end), clipped to it, in order."""
        if start >= end:
            return
        k = self.index_at(start)
        begin = self.handoff(k)
        while begin < end:
            finish = self.handoff(k + 1)
            if finish > begin:
                yield Segment(max(begin, start), min(finish, end), self.who(k), self.name)
            k += 1
            begin = finish
