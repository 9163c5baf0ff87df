"""Silences in Alertmanager from a card or /silence, end to end through the dispatcher, the
engine and the in-memory Alertmanager API, on SQLite and PostgreSQL: asked for, created once
(unreachable, crashed or racing replicas notwithstanding), shown on the card, lifted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from adapters.alertmanager.memory import MemorySilences
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.model import ActionKind, Card
from bot.retention import prune
from bot.silences import SilencePush
from bot.silences.choice import equality
from bot.silences.view import silence_view
from bot.store.db import Database
from bot.store.tables import am_silences
from tests.support import (
    TOKEN,
    RecordingPlatform,
    base_config,
    firing,
    make_settings,
    resolved,
)
from tests.unit.test_dispatch import incident, press, say


@pytest.fixture
def am(clock: FakeClock) -> MemorySilences:
    return MemorySilences("am", clock.now)


@pytest.fixture
async def app(
    db: Database, clock: FakeClock, chat: RecordingPlatform, am: MemorySilences
) -> AsyncIterator[Tocsin]:
    sources = base_config()["sources"]
    sources[0] = {
        "name": "am",
        "kind": "alertmanager",
        "auth": {"bearer_token": TOKEN},
        "api": {"url": "http://127.0.0.1:9093"},
    }
    settings = make_settings(sources=sources)
    yield bootstrap(
        settings, clock=clock, platforms={"fake": chat}, database=db, silence_apis={"am": am}
    )


async def open_incident(app: Tocsin, *instances: str, **labels: Any) -> int:
    result = await app.ingest.ingest([firing(instance=i, **labels) for i in instances or ("i-1",)])
    await app.engine.tick()
    return result.incident_ids[0]


async def rows(app: Tocsin) -> list[Any]:
    async with app.services.db.connect() as conn:
        return list((await conn.execute(select(am_silences).order_by(am_silences.c.id))).all())


def writes(am: MemorySilences) -> list[str]:
    """The calls that change Alertmanager (the poll of `bot.silences.found` reads it too)."""
    return [call for call in am.calls if call != "silences"]


def card(chat: RecordingPlatform) -> Card:
    shown = [s.card for s in chat.sent if s.card is not None]
    assert shown
    return shown[-1]


def field(shown: Card, label: str) -> str:
    return next((f.value for f in shown.fields if f.label == label), "")


async def test_silence_is_created_in_alertmanager_and_its_id_and_end_show_on_the_card(
    app: Tocsin, am: MemorySilences, chat: RecordingPlatform
) -> None:
    number = await open_incident(app, "i-1", "i-2")
    reply = await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "2h")
    assert reply.ok
    await app.engine.tick()
    [made] = am.active()
    assert made.created_by == "Alice"
    assert made.comment == f"Tocsin #{number} HighErrorRate · orders — http://tocsin.test"
    assert {(m.name, m.value, m.is_equal, m.is_regex) for m in made.matchers} == {
        ("alertname", "HighErrorRate", True, False),
        ("service", "orders", True, False),
        ("env", "prod", True, False),
        ("severity", "critical", True, False),
    }
    assert made.ends_at == app.services.clock.now() + timedelta(hours=2)
    [row] = await rows(app)
    assert (row.state, row.silence_id, row.scope) == ("active", made.id, "group")
    shown = card(chat)
    assert shown.status == "silenced"
    upstream = field(shown, "Alertmanager silence")
    assert f"Silenced in Alertmanager until 05:00 UTC · id {made.id[:8]}…" in upstream
    assert "the group: alertname=HighErrorRate, env=prod, service=orders" in upstream
    assert shown.buttons[1].action == ActionKind.UNSILENCE
    why = (await say(app, "U-ALICE", f"/incident why {number}")).text
    assert f"Silenced in Alertmanager until 05:00 UTC · id {made.id[:8]}…" in why


async def test_unreachable_alertmanager_leaves_tocsins_silence_and_is_retried_once_created(
    app: Tocsin, am: MemorySilences, chat: RecordingPlatform, clock: FakeClock
) -> None:
    number = await open_incident(app)
    am.unreachable()
    await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "30m")
    await app.engine.tick()
    assert (await incident(app, number)).silenced_until is not None
    assert am.held == {}
    [row] = await rows(app)
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, "am: connection refused")
    assert "Alertmanager silence pending (Alertmanager unreachable: am: connection refused)" in (
        field(card(chat), "Alertmanager silence")
    )
    await app.engine.tick()  # not due yet: nobody calls a dead Alertmanager every second
    assert writes(am) == ["create"]
    clock.advance(6)
    await app.engine.tick()
    assert len(am.held) == 1 and writes(am) == ["create", "create"]
    [row] = await rows(app)
    assert row.state == "active" and row.last_error == ""
    assert "Silenced in Alertmanager until" in field(card(chat), "Alertmanager silence")


async def test_a_create_whose_answer_was_lost_is_found_and_not_made_twice(
    app: Tocsin, am: MemorySilences, clock: FakeClock
) -> None:
    number = await open_incident(app)
    am.fail_after_create = True
    await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "30m")
    await app.engine.tick()
    clock.advance(6)
    await app.engine.tick()
    assert len(am.held) == 1 and writes(am) == ["create"]
    [row] = await rows(app)
    assert (row.state, row.silence_id) == ("active", next(iter(am.held)))


async def test_unsilence_expires_the_alertmanager_silence_and_the_card_goes_live(
    app: Tocsin, am: MemorySilences, chat: RecordingPlatform
) -> None:
    number = await open_incident(app)
    await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "2h")
    await app.engine.tick()
    [made] = am.active()
    reply = await press(app, "U-ALICE", ActionKind.UNSILENCE, f"incident:{number}")
    assert reply.ok and reply.text == f"Alice lifted the silence on incident #{number}."
    assert (await incident(app, number)).silenced_until is None
    await app.engine.tick()
    assert am.active() == [] and f"expire {made.id}" in am.calls
    [row] = await rows(app)
    assert row.state == "expired"
    shown = card(chat)
    assert shown.status == "triggered" and field(shown, "Alertmanager silence") == ""
    assert ActionKind.UNSILENCE not in [b.action for b in shown.buttons]
    again = await press(app, "U-ALICE", ActionKind.UNSILENCE, f"incident:{number}")
    assert not again.ok or again.private
    assert again.text == f"Incident #{number} is not silenced."


async def test_a_new_silence_replaces_the_one_tocsin_made_before(
    app: Tocsin, am: MemorySilences
) -> None:
    number = await open_incident(app)
    await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "30m")
    await app.engine.tick()
    [first] = am.active()
    await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "24h")
    await app.engine.tick()
    [second] = am.active()
    assert second.id != first.id and am.held[first.id].state == "expired"
    assert [r.state for r in await rows(app)] == ["expired", "active"]


async def test_a_refused_silence_is_final_and_the_card_says_why(
    app: Tocsin, am: MemorySilences, chat: RecordingPlatform, clock: FakeClock
) -> None:
    number = await open_incident(app)
    am.refuse()
    await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "30m")
    await app.engine.tick()
    clock.advance(600)
    await app.engine.tick()
    assert writes(am) == ["create"]
    [row] = await rows(app)
    assert row.state == "failed"
    assert "Alertmanager refused the silence: am: silence invalid: bad matchers" in field(
        card(chat), "Alertmanager silence"
    )
    assert (await incident(app, number)).silenced_until is not None  # Tocsin's still holds


async def test_a_silence_past_its_end_needs_no_call(
    app: Tocsin, am: MemorySilences, clock: FakeClock
) -> None:
    number = await open_incident(app)
    await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "30m")
    await app.engine.tick()
    clock.advance(31 * 60)
    await app.engine.tick()
    assert [r.state for r in await rows(app)] == ["expired"]
    assert writes(am) == ["create"]
    assert (await incident(app, number)).silenced_until is None


async def test_incidents_of_other_sources_keep_tocsin_side_silences_only(
    app: Tocsin, am: MemorySilences
) -> None:
    number = await open_incident(app, source="grafana")
    assert (await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "1h")).ok
    await app.engine.tick()
    assert await rows(app) == [] and writes(am) == []
    assert (await incident(app, number)).silenced_until is not None


async def test_unsilence_needs_the_silence_grant(app: Tocsin) -> None:
    number = await open_incident(app)
    await say(app, "U-ALICE", f"/silence {number} 1h")
    denied = await say(app, "U-CAROL", f"/unsilence {number}")
    assert not denied.ok and "may not silence orders in prod" in denied.text
    button = await press(app, "U-CAROL", ActionKind.UNSILENCE, f"incident:{number}")
    assert not button.ok
    assert (await incident(app, number)).silenced_until is not None
    allowed = await say(app, "U-ALICE", f"/unsilence {number}")
    assert allowed.ok and (await incident(app, number)).silenced_until is None


async def test_one_dead_alertmanager_costs_one_call_per_back_off(
    app: Tocsin, am: MemorySilences
) -> None:
    first = await open_incident(app)
    second = await open_incident(app, name="DiskFull")
    am.unreachable(times=5)
    await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{first}", "1h")
    await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{second}", "1h")
    await app.engine.tick()
    assert writes(am) == ["create"]
    assert [r.state for r in await rows(app)] == ["pending", "pending"]


async def test_a_replica_holding_the_lease_is_not_doubled_and_its_crash_is_taken_over(
    app: Tocsin, am: MemorySilences, clock: FakeClock
) -> None:
    number = await open_incident(app)
    await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "1h")
    db = app.services.db
    dying, other = SilencePush(db, clock, {"am": am}), SilencePush(db, clock, {"am": am})
    claimed = await dying._claim(set())
    assert claimed is not None
    row, _token = claimed
    await dying._create(am, row)  # it made the silence, then died before recording it
    assert await other.run_once() == 0  # leased: left alone
    clock.advance(61)
    assert await other.run_once() == 1
    assert len(am.held) == 1 and am.calls.count("create") == 1
    [stored] = await rows(app)
    assert (stored.state, stored.silence_id) == ("active", next(iter(am.held)))


async def test_passes_racing_on_many_silences_create_each_once(
    app: Tocsin, am: MemorySilences, clock: FakeClock
) -> None:
    numbers = [await open_incident(app, name=f"Alert{n}") for n in range(6)]
    for number in numbers:
        await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "1h")
    db = app.services.db
    replicas = [SilencePush(db, clock, {"am": am}) for _ in range(3)]
    await asyncio.gather(*(r.run_once() for r in replicas))
    assert am.calls.count("create") == 6 and len(am.active()) == 6
    assert {r.state for r in await rows(app)} == {"active"}


async def test_pruning_an_incident_takes_its_silences_but_waits_for_one_still_to_expire(
    app: Tocsin, am: MemorySilences, clock: FakeClock
) -> None:
    done = await open_incident(app)
    waiting = await open_incident(app, name="DiskFull")
    for number in (done, waiting):
        await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "1h")
    await app.engine.tick()
    am.unreachable(times=100)
    await press(app, "U-ALICE", ActionKind.UNSILENCE, f"incident:{waiting}")
    await app.ingest.ingest([resolved(), resolved("DiskFull")])
    await app.engine.tick()
    clock.advance(200 * 86400)
    await prune(app.services.db, app.settings, clock.now())
    left = {(r.incident_id, r.state) for r in await rows(app)}
    assert left == {(waiting, "expiring")}  # Alertmanager still holds it: kept until expired
    assert (await incident(app, waiting)).status == "resolved"


async def test_unsilence_expires_a_silence_made_in_alertmanager_too(
    app: Tocsin, am: MemorySilences, chat: RecordingPlatform, clock: FakeClock
) -> None:
    number = await open_incident(app)
    labels = firing().labels
    made = am.add(equality(labels), clock.now() + timedelta(hours=2), "bob", "deploying")
    clock.advance(31)  # the next poll of Alertmanager's silences
    await app.engine.tick()
    assert (await incident(app, number)).silenced_until is not None
    assert f"Silenced in Alertmanager by bob until 05:00 UTC · id {made[:8]}…" in field(
        card(chat), "Alertmanager silence"
    )
    assert (await press(app, "U-ALICE", ActionKind.UNSILENCE, f"incident:{number}")).ok
    clock.advance(31)
    await app.engine.tick()
    assert am.active() == [] and f"expire {made}" in am.calls
    assert (await incident(app, number)).silenced_until is None
    assert [r.state for r in await rows(app)] == ["expired"]


async def test_silences_of_a_source_whose_api_was_removed_stop_waiting(
    app: Tocsin, am: MemorySilences, clock: FakeClock, db: Database
) -> None:
    number = await open_incident(app)
    am.unreachable()
    await press(app, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "2h")
    await app.engine.tick()
    [row] = await rows(app)
    assert row.state == "pending"
    # restarted with the API taken out: nothing can make the silence there any more
    without = SilencePush(db, clock, {})
    clock.advance(timedelta(minutes=10))
    assert await without.run_once() == 0
    [row] = await rows(app)
    assert row.state == "expired"
    assert (await incident(app, number)).silenced_until is not None  # Tocsin's silence holds
    async with db.connect() as conn:  # the card has nothing of Alertmanager's to show
        assert await silence_view(conn, number) is None
