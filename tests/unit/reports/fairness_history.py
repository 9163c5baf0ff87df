"""A generated on-call history for the fairness report, and a brute-force oracle over it.

Four weeks of two schedules (New York with a weekend layer, Shanghai weekly) across the US
spring change (2027-03-14) and the UK one (2027-03-28), random overrides, pages and answered
requests from a seeded generator. The oracle knows nothing of Tocsin's rotation maths: it walks
the period minute by minute, reads each minute's wall clock and applies the rules as written
in the configuration."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.store.db import Database
from bot.store.tables import pages, preferences, schedule_overrides, swap_requests
from tests.support import base_config

NEW_YORK, SHANGHAI = ZoneInfo("America/New_York"), ZoneInfo("Asia/Shanghai")
SINCE = datetime(2027, 3, 1, 5, 0, tzinfo=UTC)  # Monday 00:00 in New York
UNTIL = datetime(2027, 3, 29, 4, 0, tzinfo=UTC)  # Monday 00:00 in New York, after the change
WEB_DAY = ("ann", "ben", "cho")
DB_WEEK = ("cho", "dee")
USERS = ("ann", "ben", "cho", "dee", "eve")
ZONES = {"ann": "America/New_York", "ben": "Europe/London", "dee": "America/Los_Angeles"}
DEFAULT_ZONE = "Asia/Shanghai"  # tocsin.timezone: cho and eve chose none
MINUTE = timedelta(minutes=1)


def config() -> dict[str, Any]:
    raw = base_config()
    raw["tocsin"]["timezone"] = DEFAULT_ZONE
    raw["users"] = [
        {"id": u, "name": u.title(), "roles": ["sre"], "identities": {"fake": f"U-{u.upper()}"}}
        for u in USERS
    ]
    raw["schedules"] = {
        "web": {
            "time_zone": "America/New_York",
            "rotations": [
                {
                    "name": "day",
                    "participants": list(WEB_DAY),
                    "shift": "daily",
                    "start": "2027-03-01T09:00",
                },
                {
                    "name": "weekend",
                    "participants": ["dee"],
                    "shift": "weekly",
                    "start": "2027-03-01T00:00",
                    "restrictions": [{"days": ["sat", "sun"], "start": "10:00", "end": "16:00"}],
                },
            ],
        },
        "db": {
            "time_zone": "Asia/Shanghai",
            "rotations": [
                {
                    "name": "week",
                    "participants": list(DB_WEEK),
                    "shift": "weekly",
                    "start": "2027-03-01T10:00",
                }
            ],
        },
    }
    return raw


@dataclass
class History:
    overrides: list[dict[str, Any]] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    minutes = int((end - start) / MINUTE)
    return start + rng.randrange(minutes) * MINUTE


def generate(seed: int = 23) -> History:
    rng = random.Random(seed)
    wide = (SINCE - timedelta(days=2), UNTIL + timedelta(days=2))
    history = History()
    for n in range(18):
        start = _moment(rng, *wide)
        reason = rng.choice(["/oncall override", "holiday", f"swap #{n}", f"take #{n}"])
        history.overrides.append(
            {
                "id": n + 1,
                "schedule": rng.choice(["web", "db"]),
                "user_id": rng.choice(USERS),
                "starts_at": start,
                "ends_at": start + rng.randrange(30, 30 * 60) * MINUTE,
                "created_by": "ann",
                "reason": reason,
                "created_at": start,
            }
        )
    for n in range(80):
        history.pages.append(
            {
                "incident_id": rng.randrange(1, 25),
                "cycle": 0,
                "loop": 0,
                "step": n,
                "recipient": rng.choice([*USERS, "chat:fake:ops", "mallory"]),
                "channel": rng.choice(["chat", "sms", "voice"]),
                "address": "x",
                "status": "sent",
                "created_at": SINCE,
                "sent_at": None if n % 11 == 0 else _moment(rng, *wide),
            }
        )
    for _ in range(24):
        requester, other = rng.sample(USERS, 2)
        decided = _moment(rng, *wide)
        history.requests.append(
            {
                "schedule": rng.choice(["web", "db"]),
                "kind": rng.choice(["swap", "cover", "take"]),
                "requester": requester,
                "other": other,
                "shift_start": decided,
                "shift_end": decided + timedelta(hours=1),
                "status": rng.choice(["accepted", "accepted", "declined", "expired"]),
                "destinations": [],
                "created_at": decided - timedelta(hours=1),
                "expires_at": decided + timedelta(hours=1),
                "decided_at": decided,
            }
        )
    return history


async def store(db: Database, history: History) -> None:
    async with db.begin() as conn:
        await conn.execute(schedule_overrides.insert(), history.overrides)
        await conn.execute(pages.insert(), history.pages)
        await conn.execute(swap_requests.insert(), history.requests)
        await conn.execute(
            preferences.insert(), [{"scope": f"user:{u}", "timezone": z} for u, z in ZONES.items()]
        )


# -- the oracle -------------------------------------------------------------------------------


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def rotation_says(schedule: str, moment: datetime) -> str | None:
    """Who the configuration puts on call at `moment`, read off the wall clock."""
    if schedule == "web":
        wall = _wall(moment, NEW_YORK)
        if wall.weekday() >= 5 and 10 <= wall.hour < 16:
            return "dee"
        turn = (wall - datetime(2027, 3, 1, 9, 0)) // timedelta(days=1)
        return WEB_DAY[turn % 3]
    wall = _wall(moment, SHANGHAI)
    turn = (wall - datetime(2027, 3, 1, 10, 0)) // timedelta(days=7)
    return DB_WEEK[turn % 2]


def zone_of(user: str) -> ZoneInfo:
    return ZoneInfo(ZONES.get(user, DEFAULT_ZONE))


def off_hours(user: str, moment: datetime) -> bool:
    wall = _wall(moment, zone_of(user))
    return wall.weekday() >= 5 or not 9 <= wall.hour < 18


def oracle(
    history: History,
    schedules: tuple[str, ...],
    since: datetime = SINCE,
    until: datetime = UNTIL,
) -> dict[str, dict[str, Any]]:
    """Each person's expected record, as the report's JSON carries it."""
    minutes: dict[str, int] = defaultdict(int)
    night: dict[str, int] = defaultdict(int)
    people: set[str] = set((*WEB_DAY, "dee") if "web" in schedules else ())
    people |= set(DB_WEEK) if "db" in schedules else set()
    moment = since
    while moment < until:
        for schedule in schedules:
            who = rotation_says(schedule, moment)
            for o in history.overrides:  # the newest override holding the minute wins
                if o["schedule"] == schedule and o["starts_at"] <= moment < o["ends_at"]:
                    who = o["user_id"]
            if who is not None:
                people.add(who)
                minutes[who] += 1
                night[who] += off_hours(who, moment)
        moment += MINUTE
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    incidents: dict[str, set[int]] = defaultdict(set)
    for r in history.requests:
        if r["status"] != "accepted" or r["schedule"] not in schedules:
            continue
        if not since <= r["decided_at"] < until:
            continue
        people |= {r["requester"], r["other"]}
        if r["kind"] == "swap":
            counts[r["requester"]]["swaps"] += 1
            counts[r["other"]]["swaps"] += 1
        elif r["kind"] == "cover":
            counts[r["other"]]["covers"] += 1
            counts[r["requester"]]["given_away"] += 1
        else:
            counts[r["requester"]]["takes"] += 1
            counts[r["other"]]["given_away"] += 1
    for o in history.overrides:
        if o["schedule"] in schedules and o["starts_at"] < until and o["ends_at"] > since:
            people.add(o["user_id"])  # on call in the period, unless a later one hid them
        manual = o["reason"] in ("/oncall override", "holiday")
        if manual and o["schedule"] in schedules and since <= o["starts_at"] < until:
            counts[o["user_id"]]["overrides"] += 1
    everyone = schedules == ("web", "db")
    for p in history.pages:
        sent = p["sent_at"]
        if p["recipient"] not in USERS or sent is None or not since <= sent < until:
            continue
        if everyone:
            people.add(p["recipient"])
        counts[p["recipient"]]["pages"] += 1
        counts[p["recipient"]]["pages_off_hours"] += off_hours(p["recipient"], sent)
        incidents[p["recipient"]].add(p["incident_id"])
    return {
        u: {
            "user": u,
            "name": u.title(),
            "time_zone": ZONES.get(u, DEFAULT_ZONE),
            "on_call_hours": round(minutes[u] / 60, 2),
            "off_hours_hours": round(night[u] / 60, 2),
            "pages": counts[u]["pages"],
            "pages_off_hours": counts[u]["pages_off_hours"],
            "incidents": len(incidents[u]),
            "swaps": counts[u]["swaps"],
            "covers": counts[u]["covers"],
            "takes": counts[u]["takes"],
            "given_away": counts[u]["given_away"],
            "overrides": counts[u]["overrides"],
        }
        for u in people
    }
