"""Health gates after deploys: a pass verifies the release; a failure rolls back (auto), counts
down unless held (semi) or only tells (manual); loop guards hold."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from adapters.deploy.memory import MemoryBackend
from adapters.metrics.memory import MemoryMetrics
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.model import ActionKind
from bot.store.db import Database
from bot.store.tables import gate_measurements, gate_runs, rca_drafts, runs
from tests.support import RecordingPlatform, firing, make_settings
from tests.unit.test_deploys import deploy_config, press, run_row
from tests.unit.test_dispatch import say

ERRORS = 'sum(rate(http_errors_total{service="orders"}[1m]))'
TRAFFIC = 'sum(rate(http_requests_total{service="orders"}[1m]))'


def gate(mode: str = "auto", **extra: Any) -> dict[str, Any]:
    return {
        "mode": mode,
        "metrics": [
            {
                "name": "error_rate",
                "query": 'sum(rate(http_errors_total{service="$service"}[1m]))',
                "success": "<= 0.05",
                "interval": "30s",
                "count": 3,
                "consecutive_failure_limit": 2,
                "traffic": {
                    "query": 'sum(rate(http_requests_total{service="$service"}[1m]))',
                    "minimum": 1,
                },
            }
        ],
        **extra,
    }


def wire(
    db: Database,
    clock: FakeClock,
    chat: RecordingPlatform,
    mem: MemoryBackend,
    metrics: MemoryMetrics,
    *,
    owner: str = "",
    drills: dict[str, Any] | None = None,
    **gate_options: Any,
) -> Tocsin:
    config = deploy_config()
    config["services"]["orders"]["gate"] = {"staging": gate(**gate_options)}
    config["services"]["orders"]["owner"] = owner
    config["deploy"]["drills"] = drills or {}
    app = bootstrap(
        make_settings(**config),
        clock=clock,
        platforms={"fake": chat},
        database=db,
        backends={"mem": mem},
        metrics_sources={"memory": metrics},
    )
    return app


async def healthy(
    db: Database, clock: FakeClock, chat: RecordingPlatform, **options: Any
) -> tuple[Tocsin, MemoryBackend, MemoryMetrics]:
    """orders wired with its staging gate (`options`), a memory backend, and metrics saying
    it is healthy: 1 % errors at 40 requests per second."""
    mem, metrics = MemoryBackend("mem"), MemoryMetrics()
    metrics.set_value(ERRORS, 0.01)
    metrics.set_value(TRAFFIC, 40)
    return wire(db, clock, chat, mem, metrics, **options), mem, metrics


async def ship(app: Tocsin, mem: MemoryBackend, clock: FakeClock, version: str) -> int:
    """Deploy `version` of orders to staging and let the backend finish it."""
    reply = await say(app, "U-BOB", f"/deploy orders {version} staging")
    assert reply.ok, reply.text
    async with app.services.db.connect() as conn:
        number = int((await conn.execute(select(runs.c.id).order_by(runs.c.id.desc()))).scalar())
    await press(app, "U-BOB", ActionKind.CONFIRM, number)
    await app.engine.tick()
    mem.finish(f"run-{number}")
    clock.advance(6)
    await app.engine.tick()
    return number


async def measure(app: Tocsin, clock: FakeClock, times: int) -> None:
    for _ in range(times):
        clock.advance(31)
        await app.engine.tick()


async def bad_release(
    db: Database, clock: FakeClock, chat: RecordingPlatform, errors: float = 0.3, **options: Any
) -> tuple[Tocsin, MemoryBackend, MemoryMetrics, int]:
    """v1 shipped and verified, then v2 shipped while `errors` of requests fail, measured until
    its gate fails; the app, backend, metrics and v2's run number."""
    app, mem, metrics = await healthy(db, clock, chat, **options)
    await ship(app, mem, clock, "v1")
    await measure(app, clock, 3)
    metrics.set_value(ERRORS, errors)
    bad = await ship(app, mem, clock, "v2")
    await measure(app, clock, 2)
    return app, mem, metrics, bad


async def gate_of(app: Tocsin, run: int) -> Any:
    async with app.services.db.connect() as conn:
        return (await conn.execute(select(gate_runs).where(gate_runs.c.run_id == run))).one()


async def test_a_healthy_release_passes_its_gate_and_becomes_verified(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, _ = await healthy(db, clock, chat)
    number = await ship(app, mem, clock, "v2")
    row = await run_row(app, number)
    assert row.state == "succeeded" and not row.verified  # the gate decides
    await measure(app, clock, 3)
    assert (await gate_of(app, number)).state == "passed"
    assert (await run_row(app, number)).verified
    card = [
        s.card for s in chat.ops("update", "fake:ops") if s.card and s.card.ref == f"run:{number}"
    ][-1]
    assert "Passed" in next(f.value for f in card.fields if f.label == "Health gate")
    assert "0.01" in card.body


async def test_auto_mode_rolls_back_to_the_last_verified_version(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, metrics = await healthy(db, clock, chat)
    good = await ship(app, mem, clock, "v1")
    await measure(app, clock, 3)
    assert (await run_row(app, good)).verified

    metrics.set_value(ERRORS, 0.2)  # the next release breaks things
    bad = await ship(app, mem, clock, "v2")
    await measure(app, clock, 2)  # two failures in a row
    state = await gate_of(app, bad)
    assert state.state == "rolled_back" and state.rollback_run_id
    rollback = await run_row(app, state.rollback_run_id)
    assert (rollback.action, rollback.version, rollback.requested_by) == (
        "rollback",
        "v1",
        "tocsin",
    )
    assert "0.2" in rollback.reason
    await app.engine.tick()
    assert mem.started[-1].action == "rollback" and mem.started[-1].version == "v1"
    async with db.connect() as conn:
        notes = (await conn.execute(select(gate_measurements.c.note))).scalars().all()
    assert any("0.2" in note for note in notes)


async def test_semi_mode_counts_down_and_hold_stops_the_rollback(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, metrics = await healthy(db, clock, chat, mode="semi", countdown="5m")
    await ship(app, mem, clock, "v1")
    await measure(app, clock, 3)
    metrics.set_value(ERRORS, 0.3)
    held = await ship(app, mem, clock, "v2")
    await measure(app, clock, 2)
    assert (await gate_of(app, held)).state == "countdown"
    card = [
        s.card for s in chat.ops("update", "fake:ops") if s.card and s.card.ref == f"run:{held}"
    ][-1]
    assert [b.action for b in card.buttons] == [ActionKind.HOLD, ActionKind.ROLLBACK]
    assert not (await press(app, "U-CAROL", ActionKind.HOLD, held)).ok  # a viewer may not
    assert (await press(app, "U-BOB", ActionKind.HOLD, held)).ok
    clock.advance(600)
    await app.engine.tick()
    assert (await gate_of(app, held)).state == "held"
    assert [r.action for r in mem.started] == ["deploy", "deploy"]

    lapsed = await ship(app, mem, clock, "v3")
    await measure(app, clock, 2)
    assert (await gate_of(app, lapsed)).state == "countdown"
    clock.advance(301)
    await app.engine.tick()
    await app.engine.tick()
    assert (await gate_of(app, lapsed)).state == "rolled_back"
    assert mem.started[-1].action == "rollback" and mem.started[-1].version == "v1"


async def test_manual_mode_and_the_loop_guards_never_roll_back_on_their_own(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, metrics, number = await bad_release(db, clock, chat, mode="manual")
    assert (await gate_of(app, number)).state == "failed"
    assert [r.action for r in mem.started] == ["deploy", "deploy"]
    reply = await press(app, "U-BOB", ActionKind.ROLLBACK, number)  # the card's button
    assert reply.ok and "v2 → v1" in reply.text
    assert (await gate_of(app, number)).state == "rolled_back"
    await app.engine.tick()
    assert [r.action for r in mem.started] == ["deploy", "deploy"]  # its requester confirms first
    rollback_run = (await gate_of(app, number)).rollback_run_id
    assert (await press(app, "U-BOB", ActionKind.CONFIRM, rollback_run)).ok
    await app.engine.tick()
    [rollback] = mem.running()
    mem.finish(rollback)
    clock.advance(6)
    await app.engine.tick()
    await measure(app, clock, 2)  # the rollback's own gate fails too: nothing more is rolled back
    rolled = await gate_of(app, int(rollback.removeprefix("run-")))
    assert rolled.state == "failed" and "nothing more is rolled back" in rolled.note
    assert [r.action for r in mem.started] == ["deploy", "deploy", "rollback"]

    # auto mode, but the release carries an irreversible migration: it waits for people
    app = wire(db, clock, chat, mem, metrics, mode="auto")
    reply = await say(app, "U-BOB", "/deploy orders v4 staging migration=irreversible")
    assert reply.ok
    async with db.connect() as conn:
        risky = int((await conn.execute(select(runs.c.id).order_by(runs.c.id.desc()))).scalar())
    await press(app, "U-BOB", ActionKind.CONFIRM, risky)
    await app.engine.tick()
    mem.finish(f"run-{risky}")
    clock.advance(6)
    await app.engine.tick()
    await measure(app, clock, 2)
    state = await gate_of(app, risky)
    assert state.state == "failed" and "irreversible" in state.note


async def test_no_data_or_too_little_traffic_is_inconclusive_never_a_pass(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem, metrics = MemoryBackend("mem"), MemoryMetrics()
    metrics.set_value(ERRORS, 0.0)
    metrics.set_value(TRAFFIC, 0.2)  # below the minimum of 1 request/s
    app = wire(db, clock, chat, mem, metrics)
    number = await ship(app, mem, clock, "v1")
    await measure(app, clock, 3)
    state = await gate_of(app, number)
    assert state.state == "inconclusive"
    assert not (await run_row(app, number)).verified
    assert mem.started[-1].action == "deploy"  # nothing rolled back


async def test_a_rollback_leaves_a_review_draft_with_the_measured_values(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, metrics = await healthy(db, clock, chat)
    await ship(app, mem, clock, "v1")
    await measure(app, clock, 3)
    metrics.set_value(ERRORS, 0.25)
    bad = await ship(app, mem, clock, "v2")
    await measure(app, clock, 2)
    rollback = (await gate_of(app, bad)).rollback_run_id
    await app.engine.tick()
    mem.finish(f"run-{rollback}")
    clock.advance(6)
    await app.engine.tick()
    async with db.connect() as conn:
        markdown = (
            await conn.execute(select(rca_drafts.c.markdown).where(rca_drafts.c.run_id == rollback))
        ).scalar_one()
    assert "# Rollback of orders in staging: v2 → v1" in markdown
    assert "| error_rate | 0.25 > 0.05 | failed |" in markdown
    assert "## Follow-up" in markdown and "- [ ]" in markdown
    assert any(s.card and s.card.ref == f"review:{rollback}" for s in chat.ops("post", "fake:ops"))


async def test_a_p0_soon_after_a_deploy_proposes_or_performs_the_rollback_once(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, metrics = await healthy(db, clock, chat, mode="auto")
    await ship(app, mem, clock, "v1")
    await measure(app, clock, 3)
    fresh = await ship(app, mem, clock, "v2")
    await measure(app, clock, 3)  # v2 passed its gate too; then customers start to complain
    clock.advance(600)
    result = await app.ingest.ingest([firing(service="orders", env="staging")])
    incident = result.incident_ids[0]
    await app.engine.tick()
    await app.engine.tick()
    async with db.connect() as conn:
        rollbacks = (await conn.execute(select(runs).where(runs.c.action == "rollback"))).all()
    assert [(r.version, r.previous, r.incident_id) for r in rollbacks] == [("v1", "v2", incident)]
    said = [s.text for s in chat.ops("text", "fake:ops") if "rolling back automatically" in s.text]
    assert len(said) == 1 and f"run #{fresh}" in said[0]

    # another incident while v2 is being rolled back: there is nothing more to undo
    manual = wire(db, clock, chat, mem, metrics, mode="manual")
    clock.advance(60)
    await manual.ingest.ingest([firing("OrdersDown", service="orders", env="staging")])
    await manual.engine.tick()
    assert not [s for s in chat.ops("text", "fake:ops") if "press Rollback" in s.text]
    for run_id in mem.running():
        mem.finish(run_id)
    clock.advance(6)
    await manual.engine.tick()

    # staging without a gate in auto mode only proposes it
    await ship(manual, mem, clock, "v3")
    await measure(manual, clock, 3)
    clock.advance(60)
    other = await manual.ingest.ingest([firing("OrdersSlow", service="orders", env="staging")])
    await manual.engine.tick()
    proposals = [s.text for s in chat.ops("text", "fake:ops") if "press Rollback" in s.text]
    assert len(proposals) == 1 and f"incident #{other.incident_ids[0]}" in proposals[0]


async def test_a_rollback_drill_reports_detection_and_restore_or_pages_the_owner(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    drills = {"orders": {"environment": "staging", "version": "v9-bad"}}
    app, mem, metrics = await healthy(db, clock, chat, owner="alice", drills=drills, mode="manual")
    await ship(app, mem, clock, "v1")
    await measure(app, clock, 3)

    async def drill() -> None:
        reply = await say(app, "U-BOB", "/drill rollback orders")
        assert reply.ok and "v9-bad" in reply.text
        await app.engine.tick()
        for run_id in mem.running():
            mem.finish(run_id)
        clock.advance(6)
        await app.engine.tick()
        await measure(app, clock, 3)
        for run_id in mem.running():  # the rollback, if any
            mem.finish(run_id)
        clock.advance(6)
        await app.engine.tick()
        await app.engine.tick()

    metrics.set_value(ERRORS, 0.3)  # the bad release breaks things, as it should
    await drill()
    passed = [
        s.text for s in chat.ops("text", "fake:ops") if "drill #1" in s.text and "✅" in s.text
    ]
    assert passed and "caught in 31 s, restored in 68 s (rolled back to v1)" in passed[0]
    assert [r.action for r in mem.started][-2:] == ["deploy", "rollback"]  # gate was manual

    metrics.set_value(ERRORS, 0.01)  # this time the gate misses it
    await drill()
    failed = [s.text for s in chat.ops("text", "fake:@alice") if "drill #2" in s.text]
    assert failed and "did not catch the bad release" in failed[0]


async def test_scheduled_drills_start_on_their_own_once_per_period(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem, metrics = MemoryBackend("mem"), MemoryMetrics()
    drills = {"orders": {"version": "v9-bad", "every": "7d"}}
    app = wire(db, clock, chat, mem, metrics, owner="alice", drills=drills)
    await app.engine.tick()
    await app.engine.tick()
    assert mem.started == []  # never on the first start: the first slot is a period away
    [said] = [s.text for s in chat.ops("text", "fake:@alice") if "first rollback drill" in s.text]
    slot = (clock.now() + timedelta(days=7)).strftime("%Y-%m-%d %H:%M")
    assert f"orders in staging is set for {slot} UTC, then every 7 days" in said
    async with db.connect() as conn:
        assert await app.services.runs.drills.next_slot(conn, "orders") == clock.now() + timedelta(
            days=7
        )

    clock.advance(timedelta(days=7))
    await app.engine.tick()
    await app.engine.tick()
    assert [(r.version, r.requested_by) for r in mem.started] == [("v9-bad", "tocsin")]
    clock.advance(timedelta(days=7))  # the first one never finished: it timed out meanwhile
    await app.engine.tick()
    await app.engine.tick()
    assert [r.version for r in mem.started] == ["v9-bad", "v9-bad"]
    assert len([s for s in chat.ops("text", "fake:@alice") if "first rollback" in s.text]) == 1
