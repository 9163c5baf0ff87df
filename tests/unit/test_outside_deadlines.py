"""Calls to outside systems have deadlines of their own: a metrics query or a deploy backend's
poll that never answers is given up after its limit, recorded as an error, and tried again,
instead of holding its run or gate for ever. (The limits are shortened for the test.)"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.deploy.memory import MemoryBackend
from bot.clock import FakeClock
from bot.deploys import runner
from bot.gates import runner as gates_runner
from bot.model import ActionKind
from bot.ports import DeployRequest, RunRef, RunStatus
from bot.store.db import Database
from bot.store.tables import gate_measurements
from tests.support import RecordingPlatform
from tests.unit.test_deploys import ask, deployed, press, run_row
from tests.unit.test_deploys import wire as wire_deploys
from tests.unit.test_engine_lanes import wire as wire_gates

LIMIT = timedelta(milliseconds=50)


class StuckPolls(MemoryBackend):
    """Starts runs, then never answers a poll."""

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_poll_that_never_answers_is_given_up_and_tried_again(
    db: Database, clock: FakeClock, chat: RecordingPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "CALL_LIMIT", LIMIT)
    app = wire_deploys(db, clock, chat, StuckPolls("mem"))
    number = await ask(app, "U-BOB", "/deploy orders v2 staging")
    assert (await press(app, "U-BOB", ActionKind.CONFIRM, number)).ok
    await app.engine.tick()  # started
    clock.advance(6)
    await app.engine.tick()  # polled: no answer within the limit
    row = await run_row(app, number)
    assert row.state == "running"
    assert row.message == "backend: the backend's poll took over 0.05 s; trying again"
    assert row.due_at is not None and row.due_at > clock.now()


async def test_a_query_that_never_answers_is_an_error_measurement(
    db: Database, clock: FakeClock, chat: RecordingPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gates_runner, "QUERY_LIMIT", LIMIT)
    app, mem = wire_gates(db, clock, chat)  # its source never answers about orders
    number = await deployed(app, mem, clock, "U-BOB", "/deploy orders v2 staging")
    await app.engine.tick()  # the gate's first measurement is due at once
    async with db.connect() as conn:
        taken = (await conn.execute(select(gate_measurements))).all()
    assert [(m.outcome, m.note) for m in taken] == [("error", "error: memory: no answer in 0.05 s")]
    assert (await run_row(app, number)).state == "succeeded"
