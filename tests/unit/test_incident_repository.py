"""The incident repository and the engine's flapping pass against a real database (SQLite, and
PostgreSQL in CI): rows become incidents and back, and a save touches only what changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.errors import UserError
from bot.incidents.repository import IncidentRepository
from bot.incidents.status import Status
from bot.model import Tier
from bot.store.db import Database
from bot.store.tables import incidents, outbox


async def _insert(db: Database, clock: FakeClock, **values: object) -> int:
    row = {
        "group_key": "api|errors",
        "route": "api",
        "tier": "P2",
        "title": "High error rate",
        "labels": {"service": "api"},
        "status": "triggered",
        "firing_count": 1,
        "alert_count": 1,
        "destinations": ["fake:ops"],
        "created_at": clock.now(),
        "updated_at": clock.now(),
        "triggered_at": clock.now(),
        "version": 1,
    } | values
    async with db.begin() as conn:
        return int((await conn.execute(incidents.insert().values(**row))).inserted_primary_key[0])


async def test_a_row_becomes_a_typed_incident(db: Database, clock: FakeClock) -> None:
    number = await _insert(db, clock, page_destinations=None)
    async with db.connect() as conn:
        incident = await IncidentRepository(db).load(conn, number)
    assert incident.status is Status.TRIGGERED and incident.tier is Tier.P2
    assert incident.destinations == ("fake:ops",) and incident.page_destinations == ()
    assert incident.labels == {"service": "api"} and incident.version == 1


async def test_an_unknown_incident_is_named_in_the_refusal(db: Database) -> None:
    async with db.connect() as conn:
        with pytest.raises(UserError) as refused:
            await IncidentRepository(db).load(conn, 404)
    assert refused.value.text_key == "incident.not_found"
    assert refused.value.text_params == {"id": 404}


async def test_save_writes_only_what_the_transition_changed(db: Database, clock: FakeClock) -> None:
    number = await _insert(db, clock)
    repository = IncidentRepository(db)
    async with db.connect() as conn:
        incident = await repository.load(conn, number)
    async with db.begin() as conn:  # someone else's change, after ours was read
        await conn.execute(update(incidents).values(firing_count=3, version=2))
    now = clock.advance(timedelta(minutes=2))
    async with db.begin() as conn:
        await repository.save(conn, incident.acknowledge("alice", now, None))
    async with db.connect() as conn:
        stored = await repository.load(conn, number)
    assert stored.status is Status.ACKNOWLEDGED and stored.acked_by == "alice"
    assert stored.acked_at == now and stored.updated_at == now
    assert stored.firing_count == 3  # left alone: the acknowledgement did not change it
    assert stored.version == 3  # counted by the database, after the other writer's change


async def test_a_quiet_flapping_incident_with_nothing_firing_resolves(
    tocsin: Tocsin, db: Database, clock: FakeClock
) -> None:
    window = tocsin.services.settings.incidents.flapping.window
    quiet = await _insert(db, clock, flapping=True, firing_count=0)
    still = await _insert(db, clock, group_key="db|slow", flapping=True, firing_count=2)
    now = clock.advance(window)
    async with db.begin() as conn:
        settled = await tocsin.services.incidents.settle_flapping(conn, now, window)
    assert sorted(settled) == [quiet, still]
    async with db.connect() as conn:
        repository = IncidentRepository(db)
        resolved, firing = await repository.load(conn, quiet), await repository.load(conn, still)
        cards = (await conn.execute(select(outbox.c.card_ref))).scalars().all()
    assert resolved.status is Status.RESOLVED and resolved.resolved_by == "monitoring"
    assert not resolved.flapping and resolved.version == 2
    assert firing.status is Status.TRIGGERED and not firing.flapping
    assert sorted(cards) == [f"incident:{quiet}", f"incident:{still}"]
