"""The health gate end to end: a real Prometheus scrapes an exporter the test drives, releases
go out through the shell backend (the demo's deploy script), and an error-rate rise after a
deploy fails the gate. In `auto` mode Tocsin rolls back to the last verified version and writes
the review draft with the measured values; in `semi` mode the Hold button stops the rollback."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.metrics import prometheus
from bot.bootstrap import Tocsin, bootstrap
from bot.model import ActionKind, CardActionRequest, CommandRequest, Destination, Sender
from bot.store.db import Database
from bot.store.migrate import upgrade
from bot.store.tables import gate_runs, rca_drafts, runs
from tests.e2e.conftest import ManagedProcess
from tests.e2e.test_prometheus import (  # noqa: F401  (fixtures)
    Exporter,
    exporter,
    prometheus_bin,
    prometheus_server,
    wait_for,
)
from tests.support import RecordingPlatform, make_settings
from tests.unit.test_deploys import deploy_config

pytestmark = pytest.mark.e2e

OPS = Destination("fake", "ops")
WINDOW = "5s"
RATIO = (
    f'sum(rate(http_requests_total{{service="$service",code=~"5.."}}[{WINDOW}]))'
    f' / sum(rate(http_requests_total{{service="$service"}}[{WINDOW}]))'
)
TRAFFIC = f'sum(rate(http_requests_total{{service="$service"}}[{WINDOW}]))'
HEALTHY = {("orders", "200"): 100.0}
BROKEN = {("orders", "200"): 70.0, ("orders", "500"): 30.0}
DEADLINE = 90.0
_events = count(1)


def settings(url: str, data: Path, mode: str) -> Any:
    config = deploy_config()
    config["deploy"]["backends"] = {
        "scripts": {
            "kind": "shell",
            "command": [sys.executable, "-m", "bot.demo_deploy", "--state-dir", str(data)],
            "timeout": "1m",
            "kill_grace": "2s",
            "log_dir": str(data / "runs"),
        }
    }
    config["deploy"]["poll_interval"] = "500ms"
    for service in config["services"].values():
        service["deploy"] = {"*": {"backend": "scripts"}}
    config["services"]["orders"]["gate"] = {
        "staging": {
            "mode": mode,
            "countdown": "10s",
            "after_rollback_count": 2,
            "metrics": [
                {
                    "name": "error_rate",
                    "query": RATIO,
                    "success": "<= 0.05",
                    "interval": "5s",
                    "count": 3,
                    "consecutive_failure_limit": 2,
                    "traffic": {"query": TRAFFIC, "minimum": 1},
                }
            ],
        }
    }
    config["metrics"] = {"prometheus": {"url": url, "timeout": "5s"}}
    config["database"] = {"url": f"sqlite+aiosqlite:///{data / 'tocsin.db'}"}
    return make_settings(**config)


@pytest.fixture
async def world(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[ManagedProcess, str, Exporter, Path]]:
    process, url = request.getfixturevalue("prometheus_server")
    state, _ = request.getfixturevalue("exporter")
    state.set_steps(HEALTHY)
    source = prometheus.create({"url": url, "timeout": "5s"})
    try:  # the rate window is full of healthy traffic
        ratio = RATIO.replace("$service", "orders")
        await wait_for(source, process, ratio, lambda v, _n: v == 0.0, "a healthy error ratio")
    finally:
        await source.aclose()
    yield process, url, state, tmp_path


async def start(url: str, data: Path, mode: str) -> tuple[Tocsin, RecordingPlatform]:
    chat = RecordingPlatform()
    config = settings(url, data, mode)
    db = Database(config.database.url)
    await upgrade(db)
    app = bootstrap(config, platforms={"fake": chat}, database=db)
    await app.start(run_engine=False)
    return app, chat


def say(app: Tocsin, text: str) -> Any:
    return app.dispatcher.command(
        CommandRequest(
            text, Sender("fake", "U-BOB"), OPS, f"e{next(_events)}", app.services.clock.now()
        )
    )


def press(app: Tocsin, action: ActionKind, run: int) -> Any:
    return app.dispatcher.action(
        CardActionRequest(
            action,
            f"run:{run}",
            "",
            Sender("fake", "U-BOB"),
            OPS,
            f"e{next(_events)}",
            app.services.clock.now(),
        )
    )


async def ship(app: Tocsin, version: str) -> int:
    reply = await say(app, f"/deploy orders {version} staging")
    assert reply.ok, reply.text
    async with app.services.db.connect() as conn:
        number = int((await conn.execute(select(runs.c.id).order_by(runs.c.id.desc()))).scalar())
    assert (await press(app, ActionKind.CONFIRM, number)).ok
    return number


async def until(app: Tocsin, what: str, check: Any) -> Any:
    """Engine rounds on the real clock until `check()` gives something (bounded)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        await app.engine.tick()
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: not within {DEADLINE}s")


def gate_state(app: Tocsin, run: int, *states: str) -> Any:
    async def check() -> Any:
        async with app.services.db.connect() as conn:
            stmt = select(gate_runs).where(gate_runs.c.run_id == run)
            row = (await conn.execute(stmt)).first()
        return row if row is not None and row.state in states else None

    return check


def run_state(app: Tocsin, run: int, *states: str) -> Any:
    async def check() -> Any:
        async with app.services.db.connect() as conn:
            row = (await conn.execute(select(runs).where(runs.c.id == run))).one()
        return row if row.state in states else None

    return check


async def test_an_error_rate_rise_fails_the_gate_and_tocsin_rolls_back(
    world: tuple[ManagedProcess, str, Exporter, Path],
) -> None:
    _process, url, exporter_state, data = world
    app, chat = await start(url, data, "auto")
    try:
        good = await ship(app, "v1")
        passed = await until(app, "v1's gate", gate_state(app, good, "passed", "failed"))
        assert passed.state == "passed"

        exporter_state.set_steps(BROKEN)  # 30 % of requests fail from now on
        bad = await ship(app, "v2")
        gate = await until(app, "v2's gate", gate_state(app, bad, "rolled_back", "failed"))
        assert gate.state == "rolled_back", gate.note
        rollback = await until(
            app, "the rollback", run_state(app, gate.rollback_run_id, "succeeded", "failed")
        )
        assert (rollback.action, rollback.version, rollback.state) == (
            "rollback",
            "v1",
            "succeeded",
        )
        assert (data / "orders-staging.version").read_text() == "v1\n"

        async with app.services.db.connect() as conn:
            stmt = select(rca_drafts.c.markdown).where(rca_drafts.c.run_id == rollback.id)
            markdown = (await conn.execute(stmt)).scalar_one()
        assert "# Rollback of orders in staging: v2 → v1" in markdown
        measured = [line for line in markdown.splitlines() if "| error_rate | 0.3 " in line]
        assert measured and "| failed |" in measured[0], markdown
        posted = [s.card.title for s in chat.ops("post", "fake:ops") if s.card]
        assert any(title.startswith("Rollback of orders") for title in posted)
    finally:
        await app.stop()


async def test_in_semi_mode_hold_stops_the_rollback(
    world: tuple[ManagedProcess, str, Exporter, Path],
) -> None:
    _process, url, exporter_state, data = world
    app, _chat = await start(url, data, "semi")
    try:
        good = await ship(app, "v1")
        await until(app, "v1's gate", gate_state(app, good, "passed"))
        exporter_state.set_steps(BROKEN)
        bad = await ship(app, "v2")
        await until(app, "the countdown", gate_state(app, bad, "countdown"))
        assert (await press(app, ActionKind.HOLD, bad)).ok
        await asyncio.sleep(11)  # past the 10 s countdown
        await app.engine.tick()
        held = await gate_state(app, bad, "held")()
        assert held is not None and "held by Bob" in held.note
        async with app.services.db.connect() as conn:
            actions = (await conn.execute(select(runs.c.action))).scalars().all()
        assert "rollback" not in actions
    finally:
        await app.stop()
