"""Canary releases: a deploy goes to the canary first, its gate judges it, and then it is
promoted to all traffic or only the canary is taken away; the stable release stays."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from adapters.deploy.memory import MemoryBackend
from adapters.metrics.memory import MemoryMetrics
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.errors import ConfigError
from bot.model import ActionKind, Card
from bot.ports import BackendCapabilities
from bot.store.db import Database
from bot.store.tables import gate_runs, rca_drafts, runs
from tests.support import RecordingPlatform, firing, make_settings
from tests.unit.test_deploys import deploy_config, press, run_row
from tests.unit.test_dispatch import say
from tests.unit.test_gates_flow import ERRORS, TRAFFIC, gate, healthy, measure, wire

CANARY = {"weight": 20}


async def latest_run(app: Tocsin) -> int:
    async with app.services.db.connect() as conn:
        return int((await conn.execute(select(runs.c.id).order_by(runs.c.id.desc()))).scalar())


async def ship(app: Tocsin, mem: MemoryBackend, clock: FakeClock, text: str) -> int:
    """`/deploy orders <text>` by Bob, confirmed, and finished by the backend."""
    reply = await say(app, "U-BOB", f"/deploy orders {text}")
    assert reply.ok, reply.text
    number = await latest_run(app)
    await press(app, "U-BOB", ActionKind.CONFIRM, number)
    await finish(app, mem, clock, number)
    return number


async def finish(app: Tocsin, mem: MemoryBackend, clock: FakeClock, number: int) -> None:
    """Let the engine start run `number`, then the backend end it well."""
    await app.engine.tick()
    mem.finish(f"run-{number}")
    clock.advance(6)
    await app.engine.tick()


async def gates_of(app: Tocsin, run: int) -> list[Any]:
    async with app.services.db.connect() as conn:
        stmt = select(gate_runs).where(gate_runs.c.run_id == run).order_by(gate_runs.c.id)
        return list((await conn.execute(stmt)).all())


def card_of(chat: RecordingPlatform, run: int) -> Card:
    cards = [
        s.card for s in chat.ops("update", "fake:ops") if s.card and s.card.ref == f"run:{run}"
    ]
    return cards[-1]


def field(card: Card, label: str) -> str:
    return next(f.value for f in card.fields if f.label == label)


async def stable_v1(app: Tocsin, mem: MemoryBackend, clock: FakeClock) -> int:
    """v1 everywhere at once (weight 0 skips the canary), verified by its gate."""
    number = await ship(app, mem, clock, "v1 staging canary_weight=0")
    await measure(app, clock, 3)
    assert (await run_row(app, number)).verified
    return number


async def with_v1(
    db: Database, clock: FakeClock, chat: RecordingPlatform, **options: Any
) -> tuple[Tocsin, MemoryBackend, MemoryMetrics]:
    """orders with a canary in its staging gate, healthy numbers, and v1 running there,
    verified."""
    app, mem, metrics = await healthy(db, clock, chat, **{"canary": CANARY, **options})
    await stable_v1(app, mem, clock)
    return app, mem, metrics


async def test_a_healthy_canary_is_promoted_and_the_promotion_is_verified(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, _ = await with_v1(db, clock, chat)
    first = await latest_run(app)
    assert (mem.started[-1].stage, mem.started[-1].canary_weight) == ("", 0)

    canary = await ship(app, mem, clock, "v2 staging")
    sent = mem.started[-1]
    assert (sent.action, sent.version, sent.stage, sent.canary_weight) == (
        "deploy",
        "v2",
        "canary",
        20,
    )
    assert sent.params == {"canary_weight": "20"} and sent.previous == "v1"
    row = await run_row(app, canary)
    assert row.state == "succeeded" and not row.verified  # a canary never is
    card = card_of(chat, canary)
    assert "20%" in field(card, "Stage") and "v1" in field(card, "Stage")

    await measure(app, clock, 3)
    [judged] = await gates_of(app, canary)
    assert judged.state == "promoted" and judged.promote_run_id
    promotion = await run_row(app, judged.promote_run_id)
    assert (promotion.action, promotion.version, promotion.previous, promotion.stage) == (
        "deploy",
        "v2",
        "v1",
        "",
    )
    assert promotion.parent_id == canary and promotion.requested_by == "tocsin"
    assert promotion.params == {} and promotion.state in ("queued", "running")  # no approval
    assert "promoted" in field(card_of(chat, canary), "Health gate")
    assert card_of(chat, canary).buttons == ()

    await finish(app, mem, clock, promotion.id)
    assert mem.started[-1].stage == "" and mem.started[-1].params == {}
    assert "canary run #" in field(card_of(chat, promotion.id), "Stage")
    await measure(app, clock, 3)
    assert (await run_row(app, promotion.id)).verified
    assert not (await run_row(app, canary)).verified
    assert [r.run_id for r in mem.started] == [
        f"run-{first}",
        f"run-{canary}",
        f"run-{promotion.id}",
    ]


async def test_a_failing_canary_is_taken_away_and_the_stable_release_stays(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, metrics = await with_v1(db, clock, chat)
    metrics.set_value(ERRORS, 0.3)
    canary = await ship(app, mem, clock, "v2 staging")
    await measure(app, clock, 2)

    [judged] = await gates_of(app, canary)
    assert judged.state == "rolled_back" and judged.rollback_run_id
    removal = await run_row(app, judged.rollback_run_id)
    assert (removal.action, removal.version, removal.stage, removal.parent_id) == (
        "rollback",
        "v1",
        "canary",
        canary,
    )
    assert removal.params == {"canary_weight": "0"}
    assert "taken away" in field(card_of(chat, canary), "Health gate")

    metrics.set_value(ERRORS, 0.01)
    await finish(app, mem, clock, removal.id)
    sent = mem.started[-1]
    assert (sent.action, sent.stage, sent.canary_weight, sent.version) == (
        "rollback",
        "canary",
        0,
        "v1",
    )
    assert "Taking the canary of run" in field(card_of(chat, removal.id), "Stage")
    async with db.connect() as conn:
        draft = (await conn.execute(select(rca_drafts.c.markdown))).scalar()
    assert draft is not None and "Removal of the canary of orders in staging" in draft
    assert "on a canary at 20 %" in draft and "| error_rate | 0.3 > 0.05 | failed |" in draft
    assert [r.action for r in mem.started] == ["deploy", "deploy", "rollback"]  # nothing else


async def test_a_manual_promotion_waits_for_the_promote_button(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, _ = await with_v1(db, clock, chat, canary={**CANARY, "promote": "manual"})
    canary = await ship(app, mem, clock, "v2 staging")
    await measure(app, clock, 3)
    [judged] = await gates_of(app, canary)
    assert judged.state == "passed"
    card = card_of(chat, canary)
    assert "Promote" in field(card, "Health gate")
    assert [b.action for b in card.buttons] == [ActionKind.PROMOTE, ActionKind.ROLLBACK]
    assert [r.action for r in mem.started] == ["deploy", "deploy"]

    assert not (await press(app, "U-CAROL", ActionKind.PROMOTE, canary)).ok  # a viewer
    reply = await press(app, "U-BOB", ActionKind.PROMOTE, canary)
    promotion = await latest_run(app)
    assert reply.ok and f"#{promotion}" in reply.text
    assert (await run_row(app, promotion)).parent_id == canary
    again = await press(app, "U-BOB", ActionKind.PROMOTE, canary)
    assert not again.ok and await latest_run(app) == promotion
    assert (await gates_of(app, canary))[0].state == "promoted"


async def test_a_passed_canary_taken_away_by_hand_is_no_longer_offered_for_promotion(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, _ = await with_v1(db, clock, chat, canary={**CANARY, "promote": "manual"})
    canary = await ship(app, mem, clock, "v2 staging")
    await measure(app, clock, 3)
    assert (await press(app, "U-BOB", ActionKind.ROLLBACK, canary)).ok
    removal = await run_row(app, await latest_run(app))
    assert (removal.stage, removal.parent_id) == ("canary", canary)
    assert (await gates_of(app, canary))[0].state == "rolled_back"
    await app.engine.tick()
    assert card_of(chat, canary).buttons == ()
    refused = await press(app, "U-BOB", ActionKind.PROMOTE, canary)
    assert not refused.ok and await latest_run(app) == removal.id


async def test_a_canary_that_cannot_be_judged_is_promoted_or_taken_away_by_hand(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, metrics = await with_v1(db, clock, chat)
    metrics.set_value(TRAFFIC, 0.1)  # too little traffic reaches the canary
    canary = await ship(app, mem, clock, "v2 staging")
    await measure(app, clock, 3)
    assert (await gates_of(app, canary))[0].state == "inconclusive"
    buttons = [b.action for b in card_of(chat, canary).buttons]
    assert buttons == [ActionKind.PROMOTE, ActionKind.ROLLBACK]
    rollback = next(b for b in card_of(chat, canary).buttons if b.action == ActionKind.ROLLBACK)
    assert rollback.confirm is None  # the grant is checked first; its own card asks to confirm

    reply = await press(app, "U-BOB", ActionKind.ROLLBACK, canary)
    assert reply.ok, reply.text
    removal = await run_row(app, await latest_run(app))
    assert (removal.action, removal.stage, removal.version) == ("rollback", "canary", "v1")
    assert removal.state == "awaiting_confirmation"
    assert (await gates_of(app, canary))[0].state == "rolled_back"
    stale = await press(app, "U-BOB", ActionKind.ROLLBACK, canary)  # an old card's button
    assert stale.ok and await latest_run(app) == removal.id


async def test_a_canary_that_another_run_superseded_is_neither_promoted_nor_rolled_back(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, _ = await with_v1(db, clock, chat)
    canary = await ship(app, mem, clock, "v2 staging")
    hotfix = await ship(app, mem, clock, "v3 staging canary_weight=0")  # everything, at once
    await measure(app, clock, 3)
    [judged] = await gates_of(app, canary)
    assert judged.state == "passed" and f"run #{hotfix} came since" in judged.note
    assert judged.promote_run_id is None
    assert all(r.parent_id is None for r in [await run_row(app, n) for n in (canary, hotfix)])
    assert await latest_run(app) == hotfix


async def test_the_weight_can_be_chosen_per_deploy_within_bounds(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    mem, metrics = MemoryBackend("mem"), MemoryMetrics()
    app = wire(db, clock, chat, mem, metrics, canary=CANARY)
    reply = await say(app, "U-BOB", "/deploy orders v2 staging canary_weight=35")
    assert reply.ok
    row = await run_row(app, await latest_run(app))
    assert (row.stage, row.canary_weight, row.params) == ("canary", 35, {"canary_weight": "35"})
    for bad in ("150", "abc", "-1"):
        reply = await say(app, "U-BOB", f"/deploy orders v2 staging canary_weight={bad}")
        assert not reply.ok and "1" in reply.text and "99" in reply.text, reply.text
    assert await latest_run(app) == row.id  # nothing recorded
    reply = await say(app, "U-ALICE", "/deploy orders v2 prod")  # prod has no canary
    assert reply.ok
    assert (await run_row(app, await latest_run(app))).stage == ""


def test_a_canary_needs_metrics_and_a_backend_that_can_do_it(db: Database) -> None:
    config = deploy_config()
    config["services"]["orders"]["gate"] = {"*": gate(canary=CANARY)}
    settings = make_settings(**config)
    with pytest.raises(ConfigError, match="needs a metrics source"):
        bootstrap(settings, database=db, backends={"mem": MemoryBackend("mem")})
    plain = MemoryBackend("mem", capabilities=BackendCapabilities(canary=False))
    with pytest.raises(ConfigError, match="cannot deploy to a canary first"):
        bootstrap(
            settings,
            database=db,
            backends={"mem": plain},
            metrics_sources={"memory": MemoryMetrics()},
        )


async def test_a_drill_on_a_canary_passes_when_the_canary_is_taken_away_and_fails_if_promoted(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    drills = {"orders": {"environment": "staging", "version": "v9-bad"}}
    app, mem, metrics = await with_v1(db, clock, chat, owner="alice", drills=drills)

    async def drill() -> Any:
        assert (await say(app, "U-BOB", "/drill rollback orders")).ok
        canary = await latest_run(app)
        await finish(app, mem, clock, canary)
        await measure(app, clock, 3)
        await finish(app, mem, clock, await latest_run(app))  # the removal, or the promotion
        await app.engine.tick()
        return await run_row(app, canary)

    metrics.set_value(ERRORS, 0.3)
    canary = await drill()
    assert canary.stage == "canary"
    assert mem.started[-1].stage == "canary" and mem.started[-1].action == "rollback"
    done = [s.text for s in chat.ops("text", "fake:ops") if "drill #1 of" in s.text]
    assert done and "✅" in done[0]

    metrics.set_value(ERRORS, 0.01)  # the gate misses it: the bad canary is promoted
    await drill()
    assert mem.started[-1].stage == "" and mem.started[-1].version == "v9-bad"
    failed = [s.text for s in chat.ops("text", "fake:@alice") if "drill #2" in s.text]
    assert failed and "did not catch the bad release" in failed[0]


async def test_a_p0_on_a_canary_takes_only_the_canary_away_and_it_is_not_promoted(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, _ = await with_v1(db, clock, chat, mode="auto")
    canary = await ship(app, mem, clock, "v2 staging")
    result = await app.ingest.ingest([firing(service="orders", env="staging")])
    await app.engine.tick()
    removal = await run_row(app, await latest_run(app))
    assert (removal.action, removal.stage, removal.parent_id, removal.version) == (
        "rollback",
        "canary",
        canary,
        "v1",
    )
    assert removal.incident_id == result.incident_ids[0]
    await measure(app, clock, 3)  # the canary's own numbers look fine, but it is gone
    [judged] = await gates_of(app, canary)
    assert judged.state == "passed" and judged.promote_run_id is None
    assert f"run #{removal.id} came since" in judged.note
