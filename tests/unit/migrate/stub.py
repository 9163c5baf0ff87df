"""A tool of our own making for the core's tests: its catalog is built in Python (the shared
story, in Tocsin's shapes) and its "who is on call" is whatever the test hands it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from bot.migrate.catalog import (
    Catalog,
    Chain,
    Cover,
    Layer,
    Person,
    Rota,
    Routing,
    Shift,
    Step,
    Target,
    Team,
    daily_windows,
)
from bot.migrate.reader import Reader

ZONE = "America/New_York"


def story() -> Catalog:
    people = [
        Person("U1", "Alice A.", "Alice@Example.com"),
        Person("U2", "Bob B.", "bob@example.com", phone="+15550100002"),
        Person("U3", "Carol C.", "carol@example.com", phone="+15550100003"),
        Person("U4", "Dave D.", "dave@example.com"),
        Person("U5", "No Mail", ""),
    ]
    primary = Rota(
        "S1",
        "Primary",
        ZONE,
        (
            Layer(
                "L1",
                "Weekly",
                ("U1", "U2", "U3"),
                timedelta(days=7),
                datetime(2027, 3, 1, 14, 0, tzinfo=UTC),
            ),
        ),
        overrides=(
            Cover(
                "U3", datetime(2027, 3, 10, 17, tzinfo=UTC), datetime(2027, 3, 10, 23, tzinfo=UTC)
            ),
            Cover("U3", datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 2, 2, tzinfo=UTC)),
        ),
    )
    sun = Rota(
        "S2",
        "Follow the sun",
        ZONE,
        (
            Layer(
                "L2",
                "Shanghai day",
                ("U4",),
                timedelta(days=1),
                datetime(2027, 3, 1, 8),
                time_zone="Asia/Shanghai",
                restrictions=daily_windows(time(8), timedelta(hours=12)),
            ),
            Layer(
                "L3",
                "New York day",
                ("U3", "U2"),
                timedelta(days=1),
                datetime(2027, 3, 1, 8),
                restrictions=daily_windows(time(8), timedelta(hours=11)),
            ),
        ),
    )
    policy = Chain(
        "P1",
        "Primary escalation",
        (
            Step((Target("schedule", "S1"),), timedelta(minutes=10)),
            Step((Target("user", "U2"), Target("user", "U9")), timedelta(minutes=15)),
            Step((Target("team", "T1"),), timedelta(seconds=5)),
        ),
        repeat=2,
    )
    robin = Chain(
        "P2",
        "Round robin",
        (
            Step(
                (Target("user", "U3"), Target("user", "U4")), timedelta(minutes=5), round_robin=True
            ),
        ),
    )
    catalog = Catalog(
        "stub",
        people=people,
        teams=[Team("T1", "SRE", ("U1", "U2")), Team("T2", "Empty", ())],
        schedules=[primary, sun],
        policies=[policy, robin],
        routes=[Routing("SV1", "Orders", "orders", "P1"), Routing("SV2", "Gone", "gone", "P9")],
    )
    catalog.skip("notification rule", "N1", "Alice's SMS rule", "Tocsin pages by tier")
    catalog.differ("override", "O7", "Part cover", "in Tocsin it covers the whole schedule")
    return catalog


@dataclass
class StubTool:
    """A `Vendor` whose catalog is `build()` and whose on-call is `shifts[schedule]`."""

    build: object = story
    shifts: Mapping[str, list[Shift]] = field(default_factory=dict)
    name: str = "stub"
    title: str = "Stub"
    default_url: str | None = "http://127.0.0.1:9/"

    def headers(self, token: str) -> Mapping[str, str]:
        return {"Authorization": f"Stub {token}"}

    async def catalog(self, reader: Reader, now: datetime) -> Catalog:
        await reader.get("/people")  # the reader is exercised like a tool's would be
        result: Catalog = self.build()  # type: ignore[operator]
        return result

    async def on_call(
        self, reader: Reader, catalog: Catalog, schedule: str, start: datetime, end: datetime
    ) -> list[Shift]:
        return list(self.shifts.get(schedule, []))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC instant in March 2027."""
    return datetime(2027, 3, day, hour, minute, tzinfo=UTC)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def clock(h: int, m: int = 0) -> time:
    return time(h, m)
