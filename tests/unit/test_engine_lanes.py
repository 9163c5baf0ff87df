"""A started engine runs its lanes side by side, and calls to outside systems beside its passes:
one metrics source that hangs holds up the gate waiting on it, and nothing else — another
service's deploy, an automatic rollback and the cards that tell of them go on.

The engine is started for real (APScheduler wakes its lanes every few milliseconds) while the
test moves the fake clock; every wait is bounded and the assertions are about what happened,
never about how long it took.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from adapters.deploy.memory import MemoryBackend
from adapters.metrics.memory import MemoryMetrics
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.engine import Engine
from bot.i18n import t
from bot.model import ActionKind
from bot.ports import QueryResult
from bot.store.db import Database
from bot.store.tables import gate_runs, runs
from tests.support import RecordingPlatform, make_settings
from tests.unit.test_deploys import deploy_config, press, run_row
from tests.unit.test_dispatch import say
from tests.unit.test_gates_flow import gate

ROUNDS = 400
"""How many times a wait looks (every 25 ms of real time): ten seconds at the most."""


class HangingMetrics(MemoryMetrics):
    """Answers like `MemoryMetrics`, except that a query about orders never comes back (until
    the test lets it go)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.hanging = 0

    async def query(self, promql: str, at: datetime | None = None) -> QueryResult:
        if 'service="orders"' in promql:
            self.hanging += 1
            await self.release.wait()
        return await super().query(promql, at)


async def until(check: Callable[[], Awaitable[bool]], clock: FakeClock, step: float = 0) -> None:
    """Wait (bounded) for `check`, moving the fake clock `step` seconds each look."""
    for _ in range(ROUNDS):
        if await check():
            return
        clock.advance(step)
        await asyncio.sleep(0.025)
    raise AssertionError("not reached within the bounded wait")


async def state(app: Tocsin, number: int) -> str:
    return str((await run_row(app, number)).state)


async def latest_run(app: Tocsin) -> int:
    async with app.services.db.connect() as conn:
        return int((await conn.execute(select(runs.c.id).order_by(runs.c.id.desc()))).scalar())


async def gate_state(app: Tocsin, run: int) -> str | None:
    async with app.services.db.connect() as conn:
        stmt = select(gate_runs.c.state).where(gate_runs.c.run_id == run)
        return (await conn.execute(stmt)).scalar()


async def ship(
    app: Tocsin, mem: MemoryBackend, clock: FakeClock, service: str, version: str = "v2"
) -> int:
    reply = await say(app, "U-BOB", f"/deploy {service} {version} staging")
    assert reply.ok, reply.text
    number = await latest_run(app)
    assert (await press(app, "U-BOB", ActionKind.CONFIRM, number)).ok
    await until(lambda: _started(mem, number), clock, 1)
    mem.finish(f"run-{number}")
    return number


async def _started(mem: MemoryBackend, number: int) -> bool:
    return f"run-{number}" in mem.phases


ERRORS = 'sum(rate(http_errors_total{{service="{}"}}[1m]))'
TRAFFIC = 'sum(rate(http_requests_total{{service="{}"}}[1m]))'


def wire(db: Database, clock: FakeClock, chat: RecordingPlatform) -> tuple[Tocsin, MemoryBackend]:
    config = deploy_config()
    config["services"]["orders"]["gate"] = {"staging": gate("auto")}
    config["services"]["storefront"]["gate"] = {"staging": gate("auto")}
    mem, metrics = MemoryBackend("mem"), HangingMetrics()
    for service in ("orders", "storefront"):
        metrics.set_value(ERRORS.format(service), 0.01)
        metrics.set_value(TRAFFIC.format(service), 40)
    app = bootstrap(
        make_settings(**config),
        clock=clock,
        platforms={"fake": chat},
        database=db,
        backends={"mem": mem},
        metrics_sources={"memory": metrics},
    )
    return app, mem


async def test_a_hanging_metrics_source_holds_up_nothing_but_its_own_gate(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem = wire(db, clock, chat)
    metrics = app.engine.gates.metrics if app.engine.gates else None
    assert isinstance(metrics, HangingMetrics)
    app.engine.start(0.01, coarse=0.01)
    try:
        # storefront v1 is verified healthy, then its errors climb
        verified = await ship(app, mem, clock, "storefront", "v1")
        await until(lambda: _is(gate_state(app, verified), "passed"), clock, 11)
        metrics.set_value(ERRORS.format("storefront"), 0.5)

        # orders ships; its gate's first measurement asks the source, which never answers
        orders = await ship(app, mem, clock, "orders")
        await until(lambda: _equals(metrics.hanging, 1), clock, 1)
        assert await gate_state(app, orders) == "measuring"

        # meanwhile payments deploys, and its card says so
        payments = await ship(app, mem, clock, "payments")
        await until(lambda: _is(state(app, payments), "succeeded"), clock, 1)
        await until(lambda: _card_finished(chat, payments), clock)

        # and storefront's failing gate rolls it back automatically, to the end
        storefront = await ship(app, mem, clock, "storefront")
        await until(lambda: _is(gate_state(app, storefront), "rolled_back"), clock, 11)
        rollback = await latest_run(app)
        assert (await run_row(app, rollback)).action == "rollback"
        await until(lambda: _started(mem, rollback), clock, 1)
        mem.finish(f"run-{rollback}")
        await until(lambda: _is(state(app, rollback), "succeeded"), clock, 1)

        # all the while, orders' measurement was still waiting on the source
        assert metrics.hanging == 1 and not metrics.release.is_set()
        assert await gate_state(app, orders) == "measuring"
    finally:
        metrics.release.set()
        await app.engine.stop()


async def _is(value: Awaitable[Any], expected: Any) -> bool:
    return await value == expected


async def _equals(value: int, expected: int) -> bool:
    return value == expected


async def _card_finished(chat: RecordingPlatform, run: int) -> bool:
    """The run's card in the chat now shows when it finished."""
    finished = t("deploy.card.finished", "en")
    cards = [s.card for s in chat.sent if s.card and s.card.ref == f"run:{run}"]
    return bool(cards) and any(f.label == finished for f in cards[-1].fields)


async def test_a_pass_that_never_ends_is_cut_and_its_lane_goes_on(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    """A pass stuck on something that never answers is cut at the pass timeout (counted on
    ``tocsin_engine_pass_timeouts_total``), and the next pass of the lane runs."""
    app = bootstrap(make_settings(), clock=clock, platforms={"fake": chat}, database=db)
    stuck = asyncio.Event()
    calls = 0

    async def never(_now: datetime) -> None:
        nonlocal calls
        calls += 1
        await stuck.wait()

    engine = Engine(app.services, app.engine.worker, pass_timeout=0.05)
    await engine._timed("stuck", never)
    await engine._timed("stuck", never)
    registry = app.services.metrics.registry
    cut = registry.get_sample_value("tocsin_engine_pass_timeouts_total", {"pass": "stuck"})
    assert calls == 2 and cut == 2
