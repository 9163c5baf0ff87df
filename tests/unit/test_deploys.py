"""Deploys and rollbacks from chat: confirmations, approvals bound to the operation, locks, one
run at a time, the release ledger, restarts and the Rollback button."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select, update

from adapters.deploy.memory import MemoryBackend
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.errors import RetryableDelivery
from bot.model import ActionKind, CardActionRequest, Reply, Sender
from bot.ports import Phase
from bot.store.db import Database
from bot.store.tables import runs
from tests.support import (
    RecordingPlatform,
    base_config,
    firing,
    make_settings,
    migrated,
    postgres_database,
)
from tests.unit.test_dispatch import OPS, say

_events = count(1)


def deploy_config(**overrides: Any) -> dict[str, Any]:
    config = base_config()
    config["users"].append(
        {"id": "dave", "name": "Dave", "roles": ["lead"], "identities": {"fake": "U-DAVE"}}
    )
    config["roles"] = {
        "sre": {"grants": ["*"]},
        "dev": {"grants": ["view", "ack", "deploy:*:staging", "rollback:*:staging"]},
        "viewer": {"grants": ["view"]},
        "lead": {"grants": ["view", "approve", "deploy"]},
    }
    config["services"] = {
        "orders": {"rollback_priority": 10, "deploy": {"*": {"backend": "mem"}}},
        "storefront": {"deploy": {"*": {"backend": "mem"}}},
        "payments": {"deploy": {"*": {"backend": "mem"}}},
    }
    config["deploy"] = {
        "backends": {"mem": {"kind": "memory"}},
        "approvals": {"prod": {"deploy": 1}},
        "poll_interval": "5s",
    }
    config.update(overrides)
    return config


def wire(
    db: Database, clock: FakeClock, chat: RecordingPlatform, mem: MemoryBackend, **overrides: Any
) -> Tocsin:
    app = bootstrap(
        make_settings(**deploy_config(**overrides)),
        clock=clock,
        platforms={"fake": chat},
        database=db,
        backends={"mem": mem},
    )
    return app


def press(app: Tocsin, who: str, action: ActionKind, run: int) -> Any:
    return app.dispatcher.action(
        CardActionRequest(
            action,
            f"run:{run}",
            "",
            Sender("fake", who),
            OPS,
            f"press-{next(_events)}",
            app.services.clock.now(),
        )
    )


async def run_row(app: Tocsin, number: int) -> Any:
    async with app.services.db.connect() as conn:
        return (await conn.execute(select(runs).where(runs.c.id == number))).one()


async def ask(app: Tocsin, who: str, text: str) -> int:
    reply: Reply = await say(app, who, text)
    assert reply.ok, reply.text
    async with app.services.db.connect() as conn:
        return int((await conn.execute(select(runs.c.id).order_by(runs.c.id.desc()))).scalar())


async def deployed(app: Tocsin, mem: MemoryBackend, clock: FakeClock, who: str, text: str) -> int:
    """Ask, confirm, run and finish a staging deploy; returns its run number."""
    number = await ask(app, who, text)
    assert (await press(app, who, ActionKind.CONFIRM, number)).ok
    await app.engine.tick()
    mem.finish(f"run-{number}")
    clock.advance(6)
    await app.engine.tick()
    assert (await run_row(app, number)).state == "succeeded"
    return number


async def test_a_developer_without_prod_rights_is_denied(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wire(db, clock, chat, MemoryBackend("mem"))
    reply = await say(app, "U-BOB", "/deploy orders v1.4.2 prod")
    assert not reply.ok and "发布" in reply.text  # Bob reads Chinese: "may not deploy"
    async with db.connect() as conn:
        assert (await conn.execute(select(runs))).all() == []


async def test_prod_waits_for_an_approval_the_requester_cannot_give(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem = MemoryBackend("mem")
    app = wire(db, clock, chat, mem)
    number = await ask(app, "U-ALICE", "/deploy orders v1.4.2 prod")
    await app.engine.tick()
    [card] = [s.card for s in chat.ops("post", "fake:ops") if s.card]
    assert card.ref == f"run:{number}" and card.buttons[0].action == ActionKind.CONFIRM

    assert not (await press(app, "U-DAVE", ActionKind.CONFIRM, number)).ok  # not the requester
    assert (await press(app, "U-ALICE", ActionKind.CONFIRM, number)).ok
    assert (await run_row(app, number)).state == "awaiting_approval"
    own = await press(app, "U-ALICE", ActionKind.APPROVE, number)
    assert not own.ok and "someone else" in own.text
    assert not (await press(app, "U-CAROL", ActionKind.APPROVE, number)).ok  # no grant
    await app.engine.tick()
    assert mem.started == []

    assert (await press(app, "U-DAVE", ActionKind.APPROVE, number)).ok
    await app.engine.tick()
    assert [r.version for r in mem.started] == ["v1.4.2"]
    assert (await run_row(app, number)).state == "running"
    mem.finish(f"run-{number}")
    clock.advance(6)
    await app.engine.tick()
    row = await run_row(app, number)
    assert row.state == "succeeded" and row.verified and row.url.startswith("https://ci.")
    last = [s.card for s in chat.ops("update", "fake:ops") if s.card][-1]
    assert last.status == "run.succeeded" and last.buttons == ()
    assert any("✅ Run #1 succeeded" in s.text for s in chat.ops("text", "fake:ops"))


async def test_an_approval_of_one_version_does_not_approve_another(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem = MemoryBackend("mem")
    app = wire(db, clock, chat, mem)
    first = await ask(app, "U-ALICE", "/deploy orders v1.4.2 prod")
    second = await ask(app, "U-ALICE", "/deploy orders v1.4.3 prod")
    for number in (first, second):
        await press(app, "U-ALICE", ActionKind.CONFIRM, number)
    await press(app, "U-DAVE", ActionKind.APPROVE, first)
    await app.engine.tick()
    assert (await run_row(app, first)).state == "running"
    assert (await run_row(app, second)).state == "awaiting_approval"
    assert [r.version for r in mem.started] == ["v1.4.2"]


async def test_two_deploys_of_one_service_and_environment_never_run_at_once(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem = MemoryBackend("mem")
    app = wire(db, clock, chat, mem)
    first = await ask(app, "U-BOB", "/deploy orders v2 staging")
    second = await ask(app, "U-BOB", "/deploy orders v3 staging")
    other = await ask(app, "U-BOB", "/deploy storefront v9 staging")
    for number in (first, second, other):
        await press(app, "U-BOB", ActionKind.CONFIRM, number)
    await app.engine.tick()
    assert sorted(r.version for r in mem.started) == ["v2", "v9"]
    waiting = await run_row(app, second)
    assert waiting.state == "queued" and f"waiting for run #{first}" in waiting.message
    clock.advance(6)
    await app.engine.tick()
    assert len(mem.started) == 2
    mem.finish(f"run-{first}", Phase.FAILED)
    clock.advance(6)
    await app.engine.tick()
    clock.advance(6)
    await app.engine.tick()
    assert [r.version for r in mem.started][-1] == "v3"
    assert (await run_row(app, first)).state == "failed"


async def test_a_restart_mid_run_resumes_polling_and_the_card(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem = MemoryBackend("mem")
    app = wire(db, clock, chat, mem)
    number = await ask(app, "U-BOB", "/deploy orders v2 staging")
    await press(app, "U-BOB", ActionKind.CONFIRM, number)
    await app.engine.tick()
    assert (await run_row(app, number)).state == "running"

    # a new Tocsin process: a new backend instance that only knows what the backend system knows
    again = MemoryBackend("mem", phases=mem.phases)
    app2 = wire(db, clock, chat, again)
    mem.finish(f"run-{number}")
    clock.advance(6)
    await app2.engine.tick()
    assert again.started == []  # nothing was started twice
    assert (await run_row(app2, number)).state == "succeeded"
    last = [s.card for s in chat.ops("update", "fake:ops") if s.card][-1]
    assert last.ref == f"run:{number}" and last.status == "run.succeeded"


async def test_the_alert_cards_rollback_picks_the_last_verified_version(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem = MemoryBackend("mem")
    app = wire(db, clock, chat, mem, deploy={"backends": {"mem": {"kind": "memory"}}})
    for version in ("v1", "v2", "v3"):
        await deployed(app, mem, clock, "U-ALICE", f"/deploy orders {version} prod")
    async with db.begin() as conn:  # v2 and v3 did not pass their checks
        await conn.execute(update(runs).where(runs.c.version != "v1").values(verified=False))
    result = await app.ingest.ingest([firing(service="orders", env="prod")])
    await app.engine.tick()
    incident = result.incident_ids[0]
    card = [s.card for s in chat.ops("post", "fake:ops") if s.card][-1]
    assert card.ref == f"incident:{incident}"
    assert [b.label for b in card.buttons if b.action == ActionKind.ROLLBACK] == ["Rollback to v1"]
    recent = [s.lines for s in card.sections if s.title == "Recent deploys"]
    assert recent and "v2 → v3" in recent[0][0]

    reply = await app.dispatcher.action(
        CardActionRequest(
            ActionKind.ROLLBACK,
            f"incident:{incident}",
            "orders/prod",
            Sender("fake", "U-ALICE"),
            OPS,
            "rb-1",
            clock.now(),
        )
    )
    assert reply.ok and "v3 → v1" in reply.text
    number = int(re.search(r"#(\d+): v3 → v1", reply.text)[1])  # type: ignore[index]
    await app.engine.tick()
    assert mem.started[-1].action == "deploy", "the press alone starts nothing"
    assert (await run_row(app, number)).state == "awaiting_confirmation"
    assert not (await press(app, "U-DAVE", ActionKind.CONFIRM, number)).ok  # not the presser
    assert (await press(app, "U-ALICE", ActionKind.CONFIRM, number)).ok
    await app.engine.tick()
    assert mem.started[-1].action == "rollback" and mem.started[-1].version == "v1"
    assert mem.started[-1].previous == "v3"


async def test_rollback_command_defaults_to_last_verified_and_refuses_unverified_targets(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem = MemoryBackend("mem")
    app = wire(db, clock, chat, mem)
    for version in ("v1", "v2"):
        await deployed(app, mem, clock, "U-BOB", f"/deploy orders {version} staging")
    bad = await say(app, "U-BOB", "/rollback orders staging to=v7")
    assert not bad.ok and "v7" in bad.text
    mem.gone.add("v1")
    gone = await say(app, "U-BOB", "/rollback orders staging to=v1")
    assert not gone.ok and "v1" in gone.text
    mem.gone.clear()
    mem.check_hangs = True  # a registry that never answers cannot hold the request
    app.services.runs.requests.artifact_wait = 0.05
    number = await ask(app, "U-BOB", "/rollback orders staging")
    mem.check_hangs = False
    row = await run_row(app, number)
    assert (row.action, row.previous, row.version) == ("rollback", "v2", "v1")
    await press(app, "U-BOB", ActionKind.CANCEL, number)
    mem.check_error = RetryableDelivery("registry: HTTP 503")  # nor one that fails: cannot tell
    again = await run_row(app, await ask(app, "U-BOB", "/rollback orders staging to=v1"))
    assert (again.action, again.version, again.state) == ("rollback", "v1", "awaiting_confirmation")
    mem.check_error = None
    history = await say(app, "U-CAROL", "/history orders staging")
    assert "rollback v2 → v1" in history.text and "deploy v1 → v2" in history.text
    status = await say(app, "U-CAROL", "/status orders")
    assert "orders in staging: v2 (last verified: v2)" in status.text


async def test_a_sticky_lock_holds_others_runs_until_it_is_released(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem = MemoryBackend("mem")
    app = wire(db, clock, chat, mem)
    locked = await say(app, "U-ALICE", "/lock staging promo day")
    assert locked.ok and "env:staging" in locked.text
    number = await ask(app, "U-BOB", "/deploy orders v2 staging")
    await press(app, "U-BOB", ActionKind.CONFIRM, number)
    await app.engine.tick()
    row = await run_row(app, number)
    assert mem.started == [] and "locked by alice: promo day" in row.message
    denied = await say(app, "U-BOB", "/unlock staging")
    assert not denied.ok
    assert (await say(app, "U-ALICE", "/unlock staging")).ok
    clock.advance(6)
    await app.engine.tick()
    assert [r.version for r in mem.started] == ["v2"]


async def test_unconfirmed_runs_lapse_and_running_ones_can_be_cancelled(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem = MemoryBackend("mem")
    app = wire(db, clock, chat, mem)
    lapsing = await ask(app, "U-BOB", "/deploy orders v2 staging")
    clock.advance(timedelta(minutes=3))
    await app.engine.tick()
    assert (await run_row(app, lapsing)).state == "expired"

    number = await ask(app, "U-BOB", "/deploy orders v3 staging")
    await press(app, "U-BOB", ActionKind.CONFIRM, number)
    await app.engine.tick()
    assert not (await press(app, "U-CAROL", ActionKind.CANCEL, number)).ok
    assert (await press(app, "U-BOB", ActionKind.CANCEL, number)).ok
    await app.engine.tick()
    assert mem.cancelled == [f"run-{number}"]
    assert (await run_row(app, number)).state == "cancelled"


async def test_core_rollbacks_jump_ahead_of_queued_work(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem = MemoryBackend("mem")
    app = wire(db, clock, chat, mem)
    await deployed(app, mem, clock, "U-BOB", "/deploy orders v1 staging")
    await deployed(app, mem, clock, "U-BOB", "/deploy orders v2 staging")
    settings = deploy_config()
    settings["deploy"]["max_parallel"] = 1
    app = wire(db, clock, chat, mem, deploy=settings["deploy"])
    blocker = await ask(app, "U-BOB", "/deploy storefront v5 staging")
    await press(app, "U-BOB", ActionKind.CONFIRM, blocker)
    await app.engine.tick()  # the only slot is taken
    deploy = await ask(app, "U-BOB", "/deploy payments v6 staging")
    rollback = await ask(app, "U-BOB", "/rollback orders staging")
    for number in (deploy, rollback):
        await press(app, "U-BOB", ActionKind.CONFIRM, number)
    await app.engine.tick()
    assert (await run_row(app, deploy)).state == "queued"
    mem.finish(f"run-{blocker}")
    for _ in range(2):  # the blocker ends, then the slot is free
        clock.advance(6)
        await app.engine.tick()
    assert [r.version for r in mem.started][-2:] == ["v5", "v1"]
    assert (await run_row(app, deploy)).state == "queued"


@pytest.mark.postgres
async def test_two_replicas_never_start_the_same_run_twice() -> None:
    async with postgres_database() as url, migrated(url):
        clock, chat, mem = FakeClock(), RecordingPlatform(), MemoryBackend("mem")
        apps = [wire(Database(url), clock, chat, mem) for _ in range(2)]
        numbers = []
        for service in ("orders", "storefront"):
            for version in ("v1", "v2", "v3"):
                numbers.append(await ask(apps[0], "U-BOB", f"/deploy {service} {version} staging"))
        for number in numbers:
            await press(apps[1], "U-BOB", ActionKind.CONFIRM, number)
        for _ in range(6):
            await asyncio.gather(*(app.engine.tick() for app in apps))
            for run_id in mem.running():
                mem.finish(run_id)
            clock.advance(6)
        assert sorted(r.run_id for r in mem.started) == sorted(f"run-{n}" for n in numbers)
        states = [(await run_row(apps[0], n)).state for n in numbers]
        assert states == ["succeeded"] * len(numbers)
        for app in apps:
            await app.services.db.dispose()
