"""Escalation timer benchmark: how late escalation steps run, with 10,000 open timers.

Run with ``make bench`` or ``.venv/bin/python bench/escalation.py [--timers N] [--window S]``.

For each database (SQLite in a temporary folder, then PostgreSQL on 127.0.0.1:5432 if it
answers) it creates N triggered incidents whose escalations are open timers, each due at its own
moment spread evenly over the window (starting a few seconds after the engine starts), and runs
the real engine on the system clock: APScheduler wakes it every 250 ms, each step pages one
person by chat DM, and the outbox delivers those pages to a platform that only counts them. The
lateness of a step is the time between its due time and the moment its pass ran it (from the
escalation log); the table gives p50, p99 and the worst, and how many steps ran.

``--with-deploys`` adds the deploy side's work meanwhile: a deploy requested every second,
round robin over 10 services (each run ends 2 s after it starts), each success opening a health
gate of 3 measurements 5 s apart, and one of the services measured by a metrics source that
hangs 9 s on every query (a Prometheus that stalls just inside its 10 s timeout). The table
then also says how many runs ended and how many measurements were taken, so the load is seen
to have been there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.bootstrap import bootstrap  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.deploys.requests import Ask  # noqa: E402
from bot.escalation.plan import Plan  # noqa: E402
from bot.model import Card, Destination  # noqa: E402
from bot.ports import (  # noqa: E402
    BackendCapabilities,
    ChatCapabilities,
    DeployRequest,
    Phase,
    PostedRef,
    QueryResult,
    RunRef,
    RunStatus,
    Sample,
)
from bot.settings.loader import parse_settings  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.tables import (  # noqa: E402
    escalation_log,
    escalations,
    gate_measurements,
    incidents,
    runs,
)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_P99 = 1.0
PEOPLE = 100
"""Each step pages one of them by round robin, so pages spread over their direct chats."""
LEAD = 3.0
"""Seconds between starting the engine and the first timer coming due."""


class CountingPlatform:
    """A chat platform that accepts everything at once and counts it."""

    name = "bench"
    capabilities = ChatCapabilities(rate_per_second=1e6, burst=1_000_000)

    def __init__(self) -> None:
        self.cards = self.texts = 0
        self.paged: dict[int, datetime] = {}
        """Incident number → when its page reached the person."""

    async def post_card(self, dest: Destination, card: Card, *, lang: str) -> PostedRef:
        self.cards += 1
        if dest.chat.startswith("@"):
            self.paged.setdefault(int(card.ref.partition(":")[2]), datetime.now(UTC))
        return PostedRef({"n": self.cards})

    async def update_card(
        self, dest: Destination, ref: PostedRef, card: Card, *, lang: str
    ) -> PostedRef:
        return ref

    async def post_text(self, dest: Destination, text: str, *, reply_to: PostedRef | None) -> None:
        self.texts += 1


DEPLOYED = [f"svc{n}" for n in range(9)] + ["stalled"]
"""The services the deploy load runs over; ``stalled`` is measured by the hanging source."""
HANG = 9.0


class TimedBackend:
    """A deploy backend whose every run succeeds 2 s after it started."""

    name = kind = "timed"
    capabilities = BackendCapabilities()

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    async def start(self, request: DeployRequest) -> RunRef:
        self.started.setdefault(request.run_id, time.monotonic())
        return RunRef(request.run_id)

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        done = time.monotonic() - self.started.get(ref.id, 0.0) >= 2.0
        return RunStatus(Phase.SUCCEEDED if done else Phase.RUNNING)

    async def cancel(self, ref: RunRef, request: DeployRequest) -> None:
        return None

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        return True

    async def aclose(self) -> None:
        return None


class StallingMetrics:
    """Healthy answers at once, except for the ``stalled`` service: HANG seconds each."""

    name = "bench"

    async def query(self, promql: str, at: datetime | None = None) -> QueryResult:
        if 'service="stalled"' in promql:
            await asyncio.sleep(HANG)
        return QueryResult((Sample(0.001, {}),), "vector")

    async def aclose(self) -> None:
        return None


def deploy_config() -> dict[str, Any]:
    gate = {
        "mode": "auto",
        "metrics": [
            {
                "name": "error_rate",
                "query": 'sum(rate(http_errors_total{service="$service"}[1m]))',
                "success": "<= 0.05",
                "interval": "5s",
                "count": 3,
            }
        ],
    }
    return {
        "services": {
            name: {"deploy": {"*": {"backend": "timed"}}, "gate": {"staging": gate}}
            for name in DEPLOYED
        },
        "deploy": {
            "backends": {"timed": {"kind": "memory"}},
            "poll_interval": "1s",
            "max_parallel": 20,
        },
        "metrics": {"bench": {}},
    }


async def deploy_load(app: Any, stop: asyncio.Event) -> int:
    """A deploy asked every second until `stop`; returns how many were asked."""
    asked = 0
    while not stop.is_set():
        service = DEPLOYED[asked % len(DEPLOYED)]
        ask = Ask(
            "deploy",
            service,
            "staging",
            f"v{asked}",
            {},
            False,
            "u0",
            ["bench:ops"],
            confirm=False,
        )
        async with app.services.db.begin() as conn:
            await app.services.runs.ask(conn, ask, datetime.now(UTC))
        asked += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    return asked


async def deploy_counts(db: Database) -> tuple[list[float], int]:
    """How long each deploy of a service other than ``stalled`` took from being asked to
    succeeded (the backend's own 2 s included), and how many measurements were taken."""
    async with db.connect() as conn:
        ended = (
            await conn.execute(
                select(runs.c.created_at, runs.c.finished_at).where(
                    runs.c.state == "succeeded", runs.c.service != "stalled"
                )
            )
        ).all()
        taken = (await conn.execute(select(func.count()).select_from(gate_measurements))).scalar()
    took = sorted((r.finished_at - r.created_at).total_seconds() for r in ended)
    return took, int(taken or 0)


def settings(url: str, *, with_deploys: bool = False) -> Any:
    config = {
        "tocsin": {"secret_key": secrets.token_urlsafe(32), "log_format": "console"},
        "database": {"url": url, "pool_size": 10},
        "console": {"enabled": False},
        "users": [{"id": f"u{n}", "identities": {"bench": f"U{n}"}} for n in range(PEOPLE)],
        "groups": {"everyone": [f"u{n}" for n in range(PEOPLE)]},
        "escalation_policies": {
            "bench": {
                "steps": [{"targets": ["group:everyone"], "delay": "1h", "round_robin": True}]
            }
        },
        "routes": [{"name": "all", "destinations": ["bench:ops"], "escalation_policy": "bench"}],
        "paging": {"channels": {"P0": ["chat"]}, "rate_limits": {}},
        "outbox": {"poll_interval": "250ms"},
        **(deploy_config() if with_deploys else {}),
    }
    return parse_settings(config, env={})


async def seed(
    db: Database, timers: int, window: float, first_due: datetime
) -> dict[int, datetime]:
    """`timers` triggered incidents, each with an open escalation due at its own moment;
    returns each incident's due time."""
    due: dict[int, datetime] = {}
    now = datetime.now(UTC)
    plan = Plan.of("bench", settings("sqlite+aiosqlite://").escalation_policies["bench"])
    batch = 1000
    async with db.begin() as conn:
        for start in range(0, timers, batch):
            rows = [
                {
                    "group_key": f"bench|{n}",
                    "route": "all",
                    "tier": "P0",
                    "title": f"Bench alert {n}",
                    "summary": "",
                    "service": "orders",
                    "environment": "prod",
                    "labels": {},
                    "status": "triggered",
                    "flapping": False,
                    "firing_count": 1,
                    "alert_count": 1,
                    "destinations": ["bench:ops"],
                    "created_at": now,
                    "updated_at": now,
                    "triggered_at": now,
                    "version": 1,
                }
                for n in range(start, min(start + batch, timers))
            ]
            ids = (await conn.execute(incidents.insert().returning(incidents.c.id), rows)).all()
            await conn.execute(
                escalations.insert(),
                [
                    {
                        "incident_id": row.id,
                        "policy": "bench",
                        "plan": plan.to_json(),
                        "episode": now,
                        "cycle": 1,
                        "step": 0,
                        "loop": 0,
                        "state": "active",
                        "next_at": due.setdefault(
                            row.id, first_due + timedelta(seconds=window * (start + i) / timers)
                        ),
                        "updated_at": now,
                    }
                    for i, row in enumerate(ids)
                ],
            )
    return due


async def measure(url: str, timers: int, window: float, with_deploys: bool) -> dict[str, Any]:
    db = Database(url, pool_size=10)
    await upgrade(db)
    chat = CountingPlatform()
    wired: dict[str, Any] = (
        {"backends": {"timed": TimedBackend()}, "metrics_sources": {"bench": StallingMetrics()}}
        if with_deploys
        else {}
    )
    app = bootstrap(
        settings(url, with_deploys=with_deploys),
        clock=SystemClock(),
        platforms={"bench": chat},
        database=db,
        **wired,
    )
    first_due = datetime.now(UTC) + timedelta(seconds=LEAD + 5)
    due = await seed(db, timers, window, first_due)
    wait = (first_due - datetime.now(UTC)).total_seconds() - LEAD
    await asyncio.sleep(max(wait, 0))
    started = time.perf_counter()
    app.engine.start(0.25)
    stop_load = asyncio.Event()
    load = asyncio.create_task(deploy_load(app, stop_load)) if with_deploys else None
    deadline = time.monotonic() + LEAD + window + 120
    ran = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        async with db.connect() as conn:
            ran = (await conn.execute(select(func.count()).select_from(escalation_log))).scalar()
        if ran >= timers and len(chat.paged) >= timers:
            break
    stop_load.set()
    asked = await load if load is not None else 0
    ended, taken = await deploy_counts(db)
    await app.engine.stop()
    elapsed = time.perf_counter() - started
    async with db.connect() as conn:
        rows = (await conn.execute(select(escalation_log.c.due_at, escalation_log.c.ran_at))).all()
    await db.dispose()
    late = sorted(max((r.ran_at - r.due_at).total_seconds(), 0.0) for r in rows)
    reached = sorted(
        max((at - due[number]).total_seconds(), 0.0) for number, at in chat.paged.items()
    )
    return {
        "delivered_p50": percentile(reached, 0.50),
        "delivered_p99": percentile(reached, 0.99),
        "steps": len(late),
        "p50": percentile(late, 0.50),
        "p99": percentile(late, 0.99),
        "max": late[-1] if late else math.nan,
        "pages": len(chat.paged),
        "elapsed": elapsed,
        "asked": asked,
        "ended": len(ended),
        "deploy_p99": percentile(ended, 0.99),
        "taken": taken,
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]


@contextlib.asynccontextmanager
async def postgres() -> AsyncIterator[str | None]:
    name = f"tocsin_bench_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError):
        yield None
        return
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timers", type=int, default=10_000, help="open escalation timers")
    parser.add_argument(
        "--window", type=float, default=60.0, help="seconds over which they come due"
    )
    parser.add_argument(
        "--with-deploys",
        action="store_true",
        help="deploys, health gates and a hanging metrics source at work meanwhile",
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    args = parser.parse_args()
    results: list[tuple[str, dict[str, Any]]] = []
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            found = await measure(url, args.timers, args.window, args.with_deploys)
            results.append(("SQLite", found))
    async with postgres() as pg:
        if args.only == "sqlite":
            pass
        elif pg is None:
            print("PostgreSQL on 127.0.0.1:5432 did not answer: skipped")
        else:
            found = await measure(pg, args.timers, args.window, args.with_deploys)
            results.append(("PostgreSQL", found))
    rate = args.timers / args.window
    print(
        f"\nEscalation lateness: {args.timers} open timers due over {args.window:.0f} s "
        f"({rate:.0f} steps/s), engine woken every 250 ms, each step pages one of "
        f"{PEOPLE} people (round robin) by chat DM"
    )
    print(
        f"{'database':<11} {'steps':>6} {'pages':>6} {'p50 s':>7} {'p99 s':>7} {'max s':>7}"
        f" {'DM p50 s':>9} {'DM p99 s':>9}"
    )
    ok = True
    for name, r in results:
        print(
            f"{name:<11} {r['steps']:>6} {r['pages']:>6} {r['p50']:>7.3f} {r['p99']:>7.3f} "
            f"{r['max']:>7.3f} {r['delivered_p50']:>9.3f} {r['delivered_p99']:>9.3f}"
        )
        ok = ok and r["steps"] == args.timers and r["p99"] < TARGET_P99
        if args.with_deploys:
            print(
                f"{'':<11} deploys meanwhile: {r['asked']} asked, {r['ended']} of the other "
                f"services succeeded (asked → succeeded p99 {r['deploy_p99']:.1f} s, the "
                f"backend's 2 s included), {r['taken']} gate measurements"
            )
    print(
        "p50/p99/max: step lateness (due → the pass ran it and queued its pages); "
        "DM: due → the page reached the chat platform"
    )
    print(
        f"target: every step run, p99 lateness < {TARGET_P99:.0f} s — {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
