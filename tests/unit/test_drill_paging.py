"""A failed rollback drill pages its service's owner: an incident through the alert intake,
the owner paged on their tier's channels whatever the route's policy says, one incident for
repeated failures, resolved by the next passing drill, and raised once across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from adapters.deploy.memory import MemoryBackend
from adapters.metrics.memory import MemoryMetrics
from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.store.db import Database
from bot.store.tables import alerts, drills, escalations, incidents, pages
from tests.support import RecordingPlatform, make_settings
from tests.unit.test_deploys import deploy_config
from tests.unit.test_dispatch import say
from tests.unit.test_gates_flow import ERRORS, TRAFFIC, gate, measure, ship

PHONES = {"alice": "+8613800000001", "bob": "+8613800000002", "carol": "+8613800000003"}


def drill_config(*, owner: str = "alice", policy: bool = True, **drill: Any) -> dict[str, Any]:
    """Orders drills in staging; alice owns orders, bob is always on call for the ops route's
    policy (whose second step, carol, is far off)."""
    config = deploy_config()
    for user in config["users"]:
        if user["id"] in PHONES:
            user["contact"] = {"phone": PHONES[user["id"]], "email": f"{user['id']}@example.com"}
    config["services"]["orders"].update(owner=owner, gate={"staging": gate("manual")})
    config["deploy"]["drills"] = {"orders": {"version": "v9-bad", **drill}}
    config["schedules"] = {
        "primary": {
            "rotations": [{"name": "all", "participants": ["bob"], "start": "2026-01-05T00:00"}]
        }
    }
    config["escalation_policies"] = {
        "primary": {
            "steps": [
                {"targets": ["schedule:primary"], "delay": "30m"},
                {"targets": ["user:carol"], "delay": "30m"},
            ]
        }
    }
    if policy:
        config["routes"][1]["escalation_policy"] = "primary"
    return config


@dataclass
class World:
    """Tocsin with a memory deploy backend, metrics, SMS and e-mail, on a fake clock."""

    db: Database
    clock: FakeClock
    chat: RecordingPlatform
    mem: MemoryBackend = field(default_factory=lambda: MemoryBackend("mem"))
    metrics: MemoryMetrics = field(default_factory=MemoryMetrics)
    sms: MemoryNotifier = field(default_factory=lambda: MemoryNotifier("sms"))
    email: MemoryNotifier = field(default_factory=lambda: MemoryNotifier("email"))

    def wire(self, config: dict[str, Any], db: Database | None = None) -> Tocsin:
        app = bootstrap(
            make_settings(**config),
            clock=self.clock,
            platforms={"fake": self.chat},
            database=db or self.db,
            backends={"mem": self.mem},
            metrics_sources={"memory": self.metrics},
            notifiers={"sms": self.sms, "email": self.email},
        )
        return app

    async def ready(self, config: dict[str, Any]) -> Tocsin:
        """Wired, with v1 of orders verified in staging: the version a drill rolls back to."""
        self.metrics.set_value(ERRORS, 0.01)
        self.metrics.set_value(TRAFFIC, 40)
        app = self.wire(config)
        await ship(app, self.mem, self.clock, "v1")
        await measure(app, self.clock, 3)
        return app

    async def drill(self, app: Tocsin, *, gate_catches_it: bool) -> None:
        """One /drill rollback orders, run to its end."""
        self.metrics.set_value(ERRORS, 0.3 if gate_catches_it else 0.01)
        reply = await say(app, "U-BOB", "/drill rollback orders")
        assert reply.ok, reply.text
        await app.engine.tick()
        for run_id in self.mem.running():
            self.mem.finish(run_id)
        self.clock.advance(6)
        await app.engine.tick()
        await measure(app, self.clock, 3)
        for run_id in self.mem.running():  # the rollback, when the gate caught it
            self.mem.finish(run_id)
        self.clock.advance(6)
        await app.engine.tick()
        await app.engine.tick()


@pytest.fixture
def world(db: Database, clock: FakeClock, chat: RecordingPlatform) -> World:
    return World(db, clock, chat)


async def rows(app: Tocsin, table: Any) -> list[Any]:
    async with app.services.db.connect() as conn:
        return list((await conn.execute(select(table).order_by(*table.primary_key))).all())


def paged(found: list[Any]) -> set[tuple[int, str, str]]:
    return {(r.step, r.recipient, r.channel) for r in found}


async def test_a_failed_drill_opens_an_incident_that_pages_the_owner_besides_the_on_call(
    world: World,
) -> None:
    app = await world.ready(drill_config(page_tier="P1"))
    await world.drill(app, gate_catches_it=False)

    [incident] = await rows(app, incidents)
    assert (incident.tier, incident.status, incident.route) == ("P1", "triggered", "ops")
    assert (incident.service, incident.environment) == ("orders", "staging")
    assert incident.title == "RollbackDrillFailed · orders"
    assert {k: incident.labels[k] for k in ("alertname", "service", "environment")} == {
        "alertname": "RollbackDrillFailed",
        "service": "orders",
        "environment": "staging",
    }
    assert "drill #1" in incident.summary and "did not catch the bad release" in incident.summary
    assert any(s.card.ref == f"incident:{incident.id}" for s in world.chat.ops("post", "fake:ops"))

    # the policy pages bob, on call; alice is paged too, as the owner, on P1's channels
    assert paged(await rows(app, pages)) == {
        (0, who, channel) for who in ("alice", "bob") for channel in ("chat", "sms", "email")
    }
    [sms] = world.sms.to(PHONES["alice"])
    assert f"#{incident.id}" in sms.text and sms.ack_url.startswith("http://tocsin.test/a/")
    assert world.email.to("alice@example.com")
    assert any(
        s.card.ref == f"incident:{incident.id}" for s in world.chat.ops("post", "fake:@alice")
    )
    told = [s.text for s in world.chat.ops("text", "fake:@alice") if "drill #1" in s.text]
    assert told and "did not catch the bad release" in told[0]  # the drill's own text stays
    why = await say(app, "U-ALICE", f"/incident why {incident.id}")
    assert "alice via owner:orders" in why.text and "bob via schedule:primary" in why.text

    # alice acknowledges from her phone, with the link in the SMS
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        done = await client.post(urlsplit(sms.ack_url).path)
    assert done.status_code == 200
    [incident] = await rows(app, incidents)
    assert (incident.status, incident.acked_by) == ("acknowledged", "Alice")


async def test_repeated_failures_stay_one_incident_and_page_nobody_again(world: World) -> None:
    app = await world.ready(drill_config())  # page_tier defaults to P2: chat and e-mail
    await world.drill(app, gate_catches_it=False)
    first = await rows(app, pages)
    assert paged(first) == {(0, who, ch) for who in ("alice", "bob") for ch in ("chat", "email")}
    assert world.sms.sent == []

    await world.drill(app, gate_catches_it=False)
    [incident] = await rows(app, incidents)
    assert incident.tier == "P2" and incident.status == "triggered"
    assert [r.id for r in await rows(app, pages)] == [r.id for r in first]
    assert len(world.email.to("alice@example.com")) == 1
    [alert] = await rows(app, alerts)
    assert alert.received_count == 1  # a standing failure is not sent to the intake again
    told = [s.text for s in world.chat.ops("text", "fake:@alice") if "drill #2" in s.text]
    assert told and "failed" in told[0]

    # escalation still runs its course for the one incident
    world.clock.advance(timedelta(minutes=30))
    await app.engine.tick()
    assert (1, "carol", "email") in paged(await rows(app, pages))


async def test_the_next_passing_drill_resolves_the_incident_and_a_new_failure_pages_again(
    world: World,
) -> None:
    app = await world.ready(drill_config(page_tier="P1", policy=False))
    world.sms.fail_next(1, retry_after=600)  # alice's SMS waits ten minutes for a retry
    await world.drill(app, gate_catches_it=False)
    [incident] = await rows(app, incidents)
    assert incident.status == "triggered"

    await world.drill(app, gate_catches_it=True)
    world.clock.advance(timedelta(minutes=10))
    await app.engine.tick()
    [incident] = await rows(app, incidents)
    assert (incident.status, incident.resolved_by) == ("resolved", "monitoring")
    sms_page = next(r for r in await rows(app, pages) if r.channel == "sms")
    assert sms_page.status == "cancelled" and world.sms.sent == []
    card = world.chat.ops("update", "fake:@alice")[-1].card
    assert card is not None and card.status == "resolved"

    await world.drill(app, gate_catches_it=False)  # broken again: the incident re-opens
    [incident] = await rows(app, incidents)
    assert incident.status == "triggered"
    again = [r for r in await rows(app, pages) if r.cycle == 2]
    assert paged(again) == {(0, "alice", ch) for ch in ("chat", "sms", "email")}
    assert len(world.sms.to(PHONES["alice"])) == 1


async def test_the_owner_is_paged_where_the_route_pages_nobody(world: World) -> None:
    app = await world.ready(drill_config(policy=False))
    await world.drill(app, gate_catches_it=False)
    [incident] = await rows(app, incidents)
    assert paged(await rows(app, pages)) == {(0, "alice", "chat"), (0, "alice", "email")}
    [esc] = await rows(app, escalations)
    assert (esc.policy, esc.state) == ("owner:orders", "exhausted")
    why = await say(app, "U-ALICE", f"/incident why {incident.id}")
    assert "Policy: owner:orders" in why.text


async def test_a_service_without_an_owner_opens_the_incident_on_its_route(world: World) -> None:
    app = await world.ready(drill_config(owner=""))
    await world.drill(app, gate_catches_it=False)
    [incident] = await rows(app, incidents)
    assert incident.status == "triggered" and incident.route == "ops"
    assert paged(await rows(app, pages)) == {(0, "bob", "chat"), (0, "bob", "email")}
    told = [s.text for s in world.chat.ops("text", "fake:ops") if "drill #1" in s.text]
    assert told and "failed" in told[0]  # the requester's chat still hears of it


async def test_without_an_owner_or_a_policy_the_incident_only_shows_its_card(
    world: World,
) -> None:
    app = await world.ready(drill_config(owner="", policy=False))
    await world.drill(app, gate_catches_it=False)
    [incident] = await rows(app, incidents)
    assert incident.status == "triggered"
    assert any(s.card.ref == f"incident:{incident.id}" for s in world.chat.ops("post", "fake:ops"))
    [esc] = await rows(app, escalations)
    assert esc.state == "none" and await rows(app, pages) == []


@pytest.fixture
async def replica_db(db: Database) -> AsyncIterator[Database]:
    """A second handle on the same database, as another replica has."""
    other = Database(db.url)
    yield other
    await other.dispose()


async def test_an_ended_drill_is_raised_once_whichever_replicas_run(
    world: World, replica_db: Database
) -> None:
    config = drill_config(page_tier="P1")
    first, second = world.wire(config), world.wire(config, replica_db)
    # a replica ended this drill, then stopped before its alert went to the intake
    now = world.clock.now()
    async with world.db.begin() as conn:
        await conn.execute(
            drills.insert().values(
                service="orders",
                environment="staging",
                version="v9-bad",
                state="failed",
                requested_by="tocsin",
                destinations=[],
                started_at=now - timedelta(minutes=30),
                finished_at=now,
                note="it did not end in time",
            )
        )
    await asyncio.gather(first.engine.tick(), second.engine.tick())
    for _ in range(3):
        world.clock.advance(1)
        await asyncio.gather(first.engine.tick(), second.engine.tick())

    [incident] = await rows(first, incidents)
    assert "did not end in time" in incident.summary
    found = await rows(first, pages)
    keys = [(r.cycle, r.loop, r.step, r.recipient, r.channel) for r in found]
    assert len(keys) == len(set(keys))
    assert paged(found) == {
        (0, who, channel) for who in ("alice", "bob") for channel in ("chat", "sms", "email")
    }
    assert len(world.sms.to(PHONES["alice"])) == 1
    assert len(world.email.to("alice@example.com")) == 1
    async with world.db.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(alerts))).scalar_one() == 1


async def test_tier_rules_that_miss_the_page_tier_are_named_at_start_up(world: World) -> None:
    config = drill_config(page_tier="P1")
    config["tiers"] = {"rules": [{"matchers": ['team="payments"'], "tier": "P0"}], "default": "P3"}
    with capture_logs() as logs:
        app = await world.ready(config)
    [warning] = [e for e in logs if "page_tier" in e["event"]]
    assert (warning["service"], warning["page_tier"], warning["tier"]) == ("orders", "P1", "P3")
    await world.drill(app, gate_catches_it=False)
    [incident] = await rows(app, incidents)
    assert incident.tier == "P3"  # the tier rules decide, as for every alert
