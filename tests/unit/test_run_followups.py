"""What follows a run, end to end through the dispatcher and the engine: the loud message when
its health gate fails and when the rollback ends, its card refreshed at each step, the buttons
of an ended card (Retry, View review) with their checks, a Rollback press checked before any
confirmation, and /status after a run that changed part of the service."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from adapters.deploy.memory import MemoryBackend
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.model import ActionKind, Card
from bot.ports import DeployRequest, Phase, RunRef, RunStatus
from bot.store.db import Database
from bot.store.tables import runs
from tests.support import RecordingPlatform
from tests.unit.test_deploys import ask, deployed, press, run_row
from tests.unit.test_deploys import wire as wire_deploys
from tests.unit.test_dispatch import say
from tests.unit.test_gates_flow import ERRORS, bad_release, gate_of, healthy, measure, ship
from tests.unit.test_gates_flow import wire as wire_gates


def card_of(chat: RecordingPlatform, run: int) -> Card:
    cards = [
        s.card for s in chat.ops("update", "fake:ops") if s.card and s.card.ref == f"run:{run}"
    ]
    assert cards, f"run #{run}'s card was never refreshed"
    return cards[-1]


def texts(chat: RecordingPlatform) -> list[str]:
    return [s.text for s in chat.ops("text", "fake:ops")]


async def run_count(app: Tocsin) -> int:
    async with app.services.db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(runs))).scalar_one())


async def finish_all(app: Tocsin, mem: MemoryBackend, clock: FakeClock) -> None:
    await app.engine.tick()
    for run_id in mem.running():
        mem.finish(run_id)
    clock.advance(6)
    await app.engine.tick()
    await app.engine.tick()


async def test_a_failed_gate_is_said_aloud_and_the_card_follows_the_rollback_to_its_end(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, metrics = await healthy(db, clock, chat)
    good = await ship(app, mem, clock, "v1")
    assert any(
        "v1 is deployed in staging; the health gate watches it for about 1 min" in x
        for x in texts(chat)
    )
    assert not any("✅ Run #" in x for x in texts(chat))  # not a success before the gate says so
    await measure(app, clock, 3)
    assert any(
        f"✅ orders v1 in staging is verified: the health gate passed (run #{good})" in x
        for x in texts(chat)
    )

    metrics.set_value(ERRORS, 0.2)
    bad = await ship(app, mem, clock, "v2")
    await measure(app, clock, 2)
    back = (await gate_of(app, bad)).rollback_run_id
    assert (
        "🚨 Health gate failed for orders v2 in staging: error_rate 0.2 > 0.05 — "
        f"rolling back to v1 (run #{back})" in texts(chat)
    )
    await app.engine.tick()  # the card refresh is delivered
    rolling = card_of(chat, bad)
    assert rolling.status == "run.rolling_back" and rolling.badge is not None
    assert rolling.badge.word == "Health gate failed — rolling back"

    await finish_all(app, mem, clock)
    assert (await run_row(app, back)).state == "succeeded"
    assert f"↩️ orders in staging rolled back to v1 (run #{back})." in texts(chat)
    ended = card_of(chat, bad)
    assert ended.status == "run.rolled_back"
    outcome = next(f.value for f in ended.fields if f.label == "Outcome")
    assert outcome == "Succeeded → health gate failed → rolled back to v1 (automatically)"
    assert [b.action for b in ended.buttons][:1] == [ActionKind.RETRY]
    history = await say(app, "U-ALICE", "/history orders staging")
    assert f"#{bad} deploy v1 → v2 · Rolled back · bob" in history.text
    assert f"#{good} deploy v1 (first deploy) · Succeeded — health gate passed" in history.text


async def test_a_gate_that_waits_for_people_says_so(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, metrics, bad = await bad_release(db, clock, chat, mode="manual")
    assert (
        f"🚨 Health gate failed for orders v2 in staging: error_rate 0.3 > 0.05 — waiting for "
        f"a decision (run #{bad})" in texts(chat)
    )
    await app.engine.tick()
    card = card_of(chat, bad)
    assert card.status == "run.gate_failed"
    assert [b.action for b in card.buttons] == [ActionKind.ROLLBACK, ActionKind.RETRY]

    semi = wire_gates(db, clock, chat, mem, metrics, mode="semi", countdown="5m")
    counting = await ship(semi, mem, clock, "v3")
    await measure(semi, clock, 2)
    assert any(
        "v3 in staging: error_rate 0.3 > 0.05 — rolling back in 5 min unless someone presses "
        f"Hold on run #{counting}" in x
        for x in texts(chat)
    )


async def test_rollback_is_refused_to_those_without_the_grant_before_anything_is_asked(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, _mem, _metrics, bad = await bad_release(db, clock, chat, mode="manual")
    before = await run_count(app)

    refused = await press(app, "U-CAROL", ActionKind.ROLLBACK, bad)  # a viewer
    assert not refused.ok and refused.private and "roll back" in refused.text
    command = await say(app, "U-CAROL", "/rollback orders staging")
    assert not command.ok
    assert await run_count(app) == before  # nothing waits for Carol's confirmation
    assert (await gate_of(app, bad)).state == "failed"

    asked = await press(app, "U-BOB", ActionKind.ROLLBACK, bad)
    assert asked.ok
    rollback = await run_row(app, before + 1)
    assert (rollback.action, rollback.state, rollback.requested_by) == (
        "rollback",
        "awaiting_confirmation",
        "bob",
    )


async def test_retry_and_view_review_check_who_presses_them(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, _metrics, bad = await bad_release(db, clock, chat, 0.2)
    await finish_all(app, mem, clock)
    card = card_of(chat, bad)
    assert [b.action for b in card.buttons] == [ActionKind.RETRY, ActionKind.REVIEW]

    review = await press(app, "U-CAROL", ActionKind.REVIEW, bad)  # viewers may read it
    assert review.ok and review.private and review.card is not None
    assert review.card.ref.startswith("review:")

    before = await run_count(app)
    refused = await press(app, "U-CAROL", ActionKind.RETRY, bad)  # but not deploy
    assert not refused.ok and await run_count(app) == before
    retried = await press(app, "U-BOB", ActionKind.RETRY, bad)
    assert retried.ok and "v2" in retried.text
    again = await run_row(app, before + 1)
    assert (again.action, again.version, again.state, again.requested_by) == (
        "deploy",
        "v2",
        "awaiting_confirmation",
        "bob",
    )
    nothing = await press(app, "U-BOB", ActionKind.REVIEW, again.id)
    assert nothing.ok and nothing.private and nothing.card is None


class HalfwayBackend(MemoryBackend):
    """A backend that reports how far a cancelled run got (`share`, None: it cannot tell)."""

    share: float | None = 0.33

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        found = await super().status(ref, request)
        if found.phase is Phase.CANCELLED:
            return RunStatus(Phase.CANCELLED, "cancelled", self.share)
        return found


async def test_status_after_a_rollback_cancelled_part_way_claims_no_version(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem = HalfwayBackend("mem")
    app = wire_deploys(db, clock, chat, mem)
    for version in ("v1", "v2"):
        await deployed(app, mem, clock, "U-BOB", f"/deploy orders {version} staging")

    async def cancelled_rollback() -> Any:
        number = await ask(app, "U-BOB", "/rollback orders staging")
        await press(app, "U-BOB", ActionKind.CONFIRM, number)
        await app.engine.tick()
        assert (await press(app, "U-BOB", ActionKind.CANCEL, number)).ok
        clock.advance(6)
        await app.engine.tick()
        return await run_row(app, number)

    row = await cancelled_rollback()
    assert (row.state, row.progress) == ("cancelled", 33)
    status = await say(app, "U-ALICE", "/status orders")
    assert (
        f"orders in staging: mixed — v1 on 33%, v2 on 67% since run #{row.id} was cancelled "
        "part way (last verified: v2)" in status.text
    )

    mem.share = None
    row = await cancelled_rollback()
    status = await say(app, "U-ALICE", "/status orders")
    assert f"orders in staging: unknown since run #{row.id} was cancelled part way" in status.text
    assert "staging: v1" not in status.text and "staging: v2" not in status.text


async def test_a_release_rolled_back_by_hand_reads_rolled_back_too(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    """Not only a gate's rollback: whoever takes a release away (a person, an alert), its card
    and /history stop calling it a success once the rollback has ended."""
    mem = MemoryBackend("mem")
    app = wire_deploys(db, clock, chat, mem)
    first = await deployed(app, mem, clock, "U-BOB", "/deploy orders v1 staging")
    second = await deployed(app, mem, clock, "U-BOB", "/deploy orders v2 staging")
    rollback = await ask(app, "U-BOB", "/rollback orders staging")
    assert (await press(app, "U-BOB", ActionKind.CONFIRM, rollback)).ok
    await app.engine.tick()
    rolling = card_of(chat, second)  # the rollback is running: the release's card says so
    assert rolling.status == "run.rolling_back", rolling.status
    await finish_all(app, mem, clock)
    ended = card_of(chat, second)
    assert ended.status == "run.rolled_back" and ended.badge is not None
    outcome = next(f.value for f in ended.fields if f.label == "Outcome")
    assert outcome == "Succeeded → rolled back to v1 (by bob)"
    history = (await say(app, "U-ALICE", "/history orders staging")).text
    assert f"#{second} deploy v1 → v2 · Rolled back" in history
    assert f"#{first} deploy v1 (first deploy) · Succeeded" in history
    assert (await run_row(app, first)).state == "succeeded"
