"""A generated on-call history written straight into the tables: incidents over several weeks
(a DST change inside), their alerts, pages and follow-ups, from a seeded random walk. Each
generated incident is also kept as a plain record, so tests compute the expected numbers from
the records by brute force, never with the code under test."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store.db import Database
from bot.store.tables import alerts, followups, incidents, pages, preferences

ALERTS = (("HighErrorRate", "orders"), ("DiskFull", "payments"), ("Latency", "storefront"))
PEOPLE = ("alice", "bob", "carol")
ZONES = {"alice": "Europe/Berlin", "bob": "America/New_York"}
"""carol keeps the configured zone."""


@dataclass
class Made:
    id: int
    alert: str
    service: str
    tier: str
    created: datetime
    acked: datetime | None
    resolved: datetime | None
    by: str | None
    flapping: bool
    changes: list[datetime]
    pages: list[tuple[str, datetime, int]]
    """(person, when, step) — each page written on two channels."""


def history(start: datetime, weeks: int, seed: int = 7) -> list[Made]:
    rng = random.Random(seed)
    made: list[Made] = []
    at = start
    end = start + timedelta(weeks=weeks)
    while True:
        at += timedelta(minutes=rng.randint(40, 600))
        if at >= end:
            break
        alert, service = rng.choice(ALERTS)
        tier = rng.choice(("P0", "P1", "P2", "P3"))
        fate = rng.random()
        acked = resolved = None
        by = None
        if fate < 0.45:
            acked = at + timedelta(seconds=rng.randint(30, 3000))
            resolved = acked + timedelta(seconds=rng.randint(60, 9000))
            by = "alice"
        elif fate < 0.8:
            resolved = at + timedelta(seconds=rng.randint(60, 4000))
            by = "monitoring" if rng.random() < 0.8 else "bob"
        elif fate < 0.9:
            acked = at + timedelta(seconds=rng.randint(30, 600))
        changes = [at + timedelta(minutes=i) for i in range(rng.choice((0, 1, 2, 5)))]
        flapping = len(changes) >= 4 and rng.random() < 0.5
        paged = [
            (rng.choice(PEOPLE), at + timedelta(minutes=5 * step), step)
            for step in range(rng.randint(0, 2))
        ]
        made.append(
            Made(
                len(made) + 1,
                alert,
                service,
                tier,
                at,
                acked,
                resolved,
                by,
                flapping,
                changes,
                paged,
            )
        )
    return made


async def write(db: Database, made: list[Made], reviews: list[tuple[int, datetime, bool]]) -> None:
    """Store the history; `reviews`: follow-up items (incident id, written at, done)."""
    inc: list[dict[str, Any]] = []
    alert_rows: list[dict[str, Any]] = []
    page_rows: list[dict[str, Any]] = []
    for m in made:
        status = "resolved" if m.resolved else "acknowledged" if m.acked else "triggered"
        inc.append(
            {
                "id": m.id,
                "group_key": f"g{m.id}",
                "route": "ops",
                "tier": m.tier,
                "title": f"{m.alert} · {m.service}",
                "summary": "",
                "service": m.service,
                "environment": "prod",
                "labels": {"alertname": m.alert, "service": m.service},
                "status": status,
                "acked_by": "alice" if m.acked else None,
                "acked_at": m.acked,
                "resolved_by": m.by,
                "resolved_at": m.resolved,
                "flapping": m.flapping,
                "firing_count": 0 if m.resolved else 1,
                "alert_count": 2,
                "destinations": ["fake:ops"],
                "created_at": m.created,
                "updated_at": m.resolved or m.acked or m.created,
                "triggered_at": m.created,
                "version": 1,
            }
        )
        for n in range(2):
            alert_rows.append(
                {
                    "source": "am",
                    "fingerprint": f"{m.id}-{n}",
                    "status": "resolved" if m.resolved else "firing",
                    "name": m.alert,
                    "summary": "",
                    "labels": {"alertname": m.alert, "service": m.service},
                    "annotations": {},
                    "first_seen_at": m.created,
                    "last_seen_at": m.created,
                    "received_count": 1,
                    "changes": [c.isoformat() for c in m.changes] if n == 0 else [],
                    "incident_id": m.id,
                }
            )
        for person, when, step in m.pages:
            for channel in ("chat", "sms"):
                page_rows.append(
                    {
                        "incident_id": m.id,
                        "cycle": 1,
                        "loop": 0,
                        "step": step,
                        "recipient": person,
                        "channel": channel,
                        "address": "x",
                        "status": "sent",
                        "created_at": when + timedelta(seconds=1 if channel == "sms" else 0),
                    }
                )
        page_rows.append(  # a chat group's page is no person's
            {
                "incident_id": m.id,
                "cycle": 1,
                "loop": 0,
                "step": 9,
                "recipient": "chat:fake:leads",
                "channel": "chat",
                "address": "fake:leads",
                "status": "queued",
                "created_at": m.created,
            }
        )
    async with db.begin() as conn:
        await conn.execute(incidents.insert(), inc)
        await conn.execute(alerts.insert(), alert_rows)
        await conn.execute(pages.insert(), page_rows)
        await conn.execute(
            preferences.insert(), [{"scope": f"user:{p}", "timezone": z} for p, z in ZONES.items()]
        )
        if reviews:
            await conn.execute(
                followups.insert(),
                [
                    {
                        "incident_id": i,
                        "position": n,
                        "text": f"item {n}",
                        "done": done,
                        "created_at": at,
                        "updated_at": at,
                    }
                    for n, (i, at, done) in enumerate(reviews)
                ],
            )
        if not db.is_sqlite:  # ids were given: move the sequence past them
            from sqlalchemy import text

            await conn.execute(
                text("SELECT setval('incidents_id_seq', (SELECT max(id) FROM incidents))")
            )


START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
"""Four weeks from here hold Europe's and America's DST changes (8 and 29 March 2026)."""
