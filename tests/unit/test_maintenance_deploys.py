"""Deploys open maintenance windows: through the shell backend running a real script, a deploy
or rollback holds a window for its service and environment while it runs and `grace` after; an
alert then reads "during deploy of vX by Y" and pages nobody, but a P0 still pages, and the health
gate still judges the release and rolls a bad one back."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.metrics.memory import MemoryMetrics
from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.deploys.run_store import from_row
from bot.maintenance import deploys as deploy_windows
from bot.maintenance.windows import Window
from bot.model import ActionKind, Card
from bot.store.db import Database
from bot.store.tables import gate_runs, incidents, maintenance_windows, pages, runs
from tests.support import RecordingPlatform, firing, make_settings
from tests.unit.test_deploys import press, run_row
from tests.unit.test_dispatch import say
from tests.unit.test_escalation import paging_config
from tests.unit.test_gates_flow import ERRORS, TRAFFIC, gate

GRACE = timedelta(minutes=5)
POLL = timedelta(seconds=5)
DEPLOY = """
import argparse, pathlib, time
parser = argparse.ArgumentParser()
for name in ("action", "service", "environment", "version", "previous", "run-id"):
    parser.add_argument("--" + name, default="")
args, _ = parser.parse_known_args()
print(f"rolling out {{args.service}} {{args.version}}", flush=True)
control = pathlib.Path({control!r})
for _ in range(2000):  # at most 20 s: the test says when the rollout is over
    if (control / "go").exists() or (control / ("go-" + args.run_id)).exists():
        break
    time.sleep(0.01)
print(f"{{args.service}} {{args.version}} is live", flush=True)
"""


@dataclass
class Rig:
    app: Tocsin
    clock: FakeClock
    chat: RecordingPlatform
    sms: MemoryNotifier
    metrics: MemoryMetrics
    control: Path

    def release(self, number: int | None = None) -> None:
        """Let the run's script finish its rollout (every run's, when `number` is None)."""
        (self.control / ("go" if number is None else f"go-run-{number}")).touch()


def config(tmp_path: Path, *, gated: bool = False, **deploys: Any) -> dict[str, Any]:
    """Paging as the escalation tests have it, orders and payments deployed by a real script
    that waits to be released, and `maintenance.deploys` as given (enabled, 5 min grace)."""
    control = tmp_path / "control"
    control.mkdir(exist_ok=True)
    script = tmp_path / "deploy.py"
    script.write_text(f"#!{sys.executable}\n" + DEPLOY.format(control=str(control)))
    script.chmod(0o755)
    settings = paging_config()
    target = {"*": {"backend": "scripts"}}
    settings["services"] = {
        "orders": {"deploy": target, "gate": {"prod": gate()} if gated else {}},
        "payments": {"deploy": target},
        "storefront": {},
    }
    settings["deploy"] = {
        "backends": {
            "scripts": {
                "kind": "shell",
                "command": [str(script)],
                "log_dir": str(tmp_path / "runs"),
                "timeout": "6h",  # the fake clock runs ahead of the script; the test ends it
            }
        },
        "poll_interval": "5s",
        "run_timeout": "2h",
    }
    settings["maintenance"] = {"deploys": {"enabled": True, "grace": "5m", **deploys}}
    return settings


@pytest.fixture
async def rigs(
    db: Database, clock: FakeClock, chat: RecordingPlatform, tmp_path: Path
) -> AsyncIterator[Any]:
    """``rig(**options)``: Tocsin wired on `config(**options)`; afterwards every script is
    released and the backends closed."""
    made: list[Rig] = []

    def build(**options: Any) -> Rig:
        sms, metrics = MemoryNotifier("sms"), MemoryMetrics()
        metrics.set_value(ERRORS, 0.01)
        metrics.set_value(TRAFFIC, 40)
        app = bootstrap(
            make_settings(**config(tmp_path, **options)),
            clock=clock,
            platforms={"fake": chat},
            database=db,
            notifiers={"sms": sms},
            metrics_sources={"memory": metrics},
        )
        made.append(Rig(app, clock, chat, sms, metrics, tmp_path / "control"))
        return made[-1]

    yield build
    for rig in made:
        rig.release()
        for backend in rig.app.backends.values():
            await backend.aclose()
            for child in getattr(backend, "_children", {}).values():  # the scripts it started
                await asyncio.to_thread(child.wait, 30)


async def start(rig: Rig, text: str, who: str = "U-ALICE") -> int:
    """Ask for a run, confirm it and let the engine start it; returns its number."""
    reply = await say(rig.app, who, text)
    assert reply.ok, reply.text
    async with rig.app.services.db.connect() as conn:
        number = int((await conn.execute(select(runs.c.id).order_by(runs.c.id.desc()))).scalar())
    assert (await press(rig.app, who, ActionKind.CONFIRM, number)).ok
    await rig.app.engine.tick()
    return number


async def until_ended(rig: Rig, number: int) -> Any:
    """Engine rounds, a poll interval apart on the fake clock, until the run has ended."""
    for _ in range(400):
        rig.clock.advance(POLL)
        await rig.app.engine.tick()
        row = await run_row(rig.app, number)
        if row.finished_at is not None:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {number} did not end: {row.state} {row.message}")


async def window_of(rig: Rig, number: int) -> Any:
    async with rig.app.services.db.connect() as conn:
        stmt = select(maintenance_windows).where(maintenance_windows.c.run_id == number)
        return (await conn.execute(stmt)).first()


async def window_count(rig: Rig) -> int:
    async with rig.app.services.db.connect() as conn:
        return len((await conn.execute(select(maintenance_windows.c.id))).all())


async def page_rows(rig: Rig) -> list[Any]:
    async with rig.app.services.db.connect() as conn:
        return list((await conn.execute(select(pages).order_by(pages.c.id))).all())


def words(card: Card) -> str:
    """All a card says, for looking a phrase up in it."""
    parts = [card.title, card.body, card.footer, *(f"{f.label}: {f.value}" for f in card.fields)]
    for section in card.sections:
        parts.append(str(section))
    return "\n".join(parts)


def last_card(chat: RecordingPlatform, ref: str, dest: str = "fake:ops") -> Card:
    shown = [s.card for s in chat.sent if s.dest == dest and s.card and s.card.ref == ref]
    assert shown, f"no card {ref} in {dest}"
    return shown[-1]


async def test_a_deploy_holds_a_window_while_it_runs_and_grace_after_it(rigs: Any) -> None:
    rig = rigs()
    number = await start(rig, "/deploy orders v2 prod")
    assert (await run_row(rig.app, number)).state == "running"
    opened = await window_of(rig, number)
    assert opened is not None
    assert (opened.kind, opened.service, opened.environment) == ("deploy", "orders", "prod")
    assert (opened.version, opened.created_by, opened.reason) == ("v2", "alice", "deploy")
    started = opened.starts_at
    # while it runs, its end is the latest the run may still be running, plus the grace
    cap = started + timedelta(hours=2) + GRACE
    assert opened.ends_at == cap and opened.ended_at is None
    window = Window.of(opened)
    assert window.active(cap - timedelta(seconds=1)) and not window.active(cap)

    rig.release(number)
    row = await until_ended(rig, number)
    assert row.state == "succeeded"
    closed = await window_of(rig, number)
    assert (closed.id, closed.starts_at) == (opened.id, started)
    assert closed.ends_at == row.finished_at + GRACE
    assert await window_count(rig) == 1


async def test_a_failed_or_cancelled_run_ends_its_window_too_and_a_rollback_opens_its_own(
    rigs: Any,
) -> None:
    rig = rigs()
    first = await start(rig, "/deploy orders v1 prod")
    rig.release(first)
    await until_ended(rig, first)

    cancelled = await start(rig, "/deploy orders v2 prod")
    assert (await press(rig.app, "U-ALICE", ActionKind.CANCEL, cancelled)).ok
    row = await until_ended(rig, cancelled)
    assert row.state == "cancelled"
    assert (await window_of(rig, cancelled)).ends_at == row.finished_at + GRACE

    back = await start(rig, "/rollback orders prod")
    window = await window_of(rig, back)
    assert (window.reason, window.version, window.created_by) == ("rollback", "v1", "alice")
    rig.release(back)
    row = await until_ended(rig, back)
    assert (await window_of(rig, back)).ends_at == row.finished_at + GRACE
    assert await window_count(rig) == 3


async def test_a_dry_run_a_disabled_setting_and_an_unlisted_service_open_none(
    rigs: Any,
) -> None:
    rig = rigs(services=["orders"])
    rig.release()
    dry = await start(rig, "/deploy orders v2 prod --dry-run")
    assert (await until_ended(rig, dry)).dry_run
    unlisted = await start(rig, "/deploy payments v2 prod")
    await until_ended(rig, unlisted)
    assert await window_count(rig) == 0

    off = rigs(enabled=False)
    number = await start(off, "/deploy orders v3 prod")
    await until_ended(off, number)
    assert await window_count(off) == 0

    reply = await say(rig.app, "U-ALICE", "/deploy orders v5 prod")  # never confirmed
    assert reply.ok
    rig.clock.advance(timedelta(minutes=3))
    await rig.app.engine.tick()
    async with rig.app.services.db.connect() as conn:
        lapsed = (await conn.execute(select(runs).order_by(runs.c.id.desc()))).first()
    assert lapsed is not None and lapsed.state == "expired"
    assert await window_count(rig) == 0

    listed = await start(rig, "/deploy orders v4 prod")
    await until_ended(rig, listed)
    assert (await window_of(rig, listed)).version == "v4"


async def test_a_run_opens_one_window_however_often_its_start_is_written(
    rigs: Any,
) -> None:
    rig = rigs()
    number = await start(rig, "/deploy orders v2 prod")
    run = from_row(await run_row(rig.app, number))
    db = rig.app.services.db
    async with db.begin() as conn:  # the start written again, as by a second replica
        await deploy_windows.follow(conn, db, rig.app.settings, run, rig.clock.now())
    assert await window_count(rig) == 1
    rig.release(number)
    await until_ended(rig, number)


async def test_an_alert_during_the_rollout_reads_the_deploy_and_pages_nobody(
    rigs: Any,
) -> None:
    rig = rigs()
    number = await start(rig, "/deploy orders v2 prod")
    result = await rig.app.ingest.ingest([firing("PodRestarts", severity="warning")])
    [incident] = result.incident_ids
    await rig.app.engine.tick()
    async with rig.app.services.db.connect() as conn:
        row = (await conn.execute(select(incidents).where(incidents.c.id == incident))).one()
    assert row.tier == "P2"
    assert row.maintenance_id == (await window_of(rig, number)).id
    card = words(last_card(rig.chat, f"incident:{incident}"))
    assert "during deploy of v2 by alice, while it rolls out (by " in card

    rig.clock.advance(timedelta(minutes=20))  # past every step of the escalation policy
    await rig.app.engine.tick()
    assert await page_rows(rig) == [] and rig.sms.sent == []
    rig.release(number)
    ended = await until_ended(rig, number)
    rig.clock.set(ended.finished_at + GRACE - timedelta(seconds=1))
    await rig.app.engine.tick()
    assert await page_rows(rig) == []
    rig.clock.set(ended.finished_at + GRACE + timedelta(minutes=1))  # the window is over
    await rig.app.engine.tick()
    assert [(p.recipient, p.channel) for p in await page_rows(rig)] == [("alice", "chat")]


async def test_a_p0_during_the_rollout_still_pages(rigs: Any) -> None:
    rig = rigs()
    number = await start(rig, "/deploy orders v2 prod")
    result = await rig.app.ingest.ingest([firing("OrdersDown", severity="critical")])
    [incident] = result.incident_ids
    await rig.app.engine.tick()
    async with rig.app.services.db.connect() as conn:
        row = (await conn.execute(select(incidents).where(incidents.c.id == incident))).one()
    assert row.tier == "P0" and row.maintenance_id == (await window_of(rig, number)).id
    assert [(p.recipient, p.channel) for p in await page_rows(rig)] == [
        ("alice", "chat"),
        ("alice", "sms"),
    ]
    assert "during deploy of v2 by alice" in words(last_card(rig.chat, f"incident:{incident}"))
    rig.release(number)
    await until_ended(rig, number)


async def test_the_health_gate_still_rolls_a_bad_release_back_in_its_window(rigs: Any) -> None:
    rig = rigs(gated=True)
    rig.release()
    good = await start(rig, "/deploy orders v1 prod")
    await until_ended(rig, good)
    for _ in range(3):
        rig.clock.advance(31)
        await rig.app.engine.tick()
    assert (await run_row(rig.app, good)).verified

    rig.metrics.set_value(ERRORS, 0.3)  # v2 is bad
    bad = await start(rig, "/deploy orders v2 prod")
    ended = await until_ended(rig, bad)
    window = await window_of(rig, bad)
    assert window.ends_at == ended.finished_at + GRACE  # the gate measures inside the grace
    rollback = None
    for _ in range(10):
        rig.clock.advance(31)
        await rig.app.engine.tick()
        async with rig.app.services.db.connect() as conn:
            stmt = select(gate_runs).where(gate_runs.c.run_id == bad)
            judged = (await conn.execute(stmt)).one()
        if judged.rollback_run_id:
            rollback = judged.rollback_run_id
            break
    assert judged.state == "rolled_back" and rollback is not None
    back = await until_ended(rig, rollback)
    assert (back.action, back.version, back.state) == ("rollback", "v1", "succeeded")
    opened = await window_of(rig, rollback)
    assert (opened.reason, opened.version, opened.created_by) == ("rollback", "v1", "tocsin")
    assert opened.ends_at == back.finished_at + GRACE


async def test_a_p0_in_the_grace_still_triggers_the_rollback_of_the_fresh_release(
    rigs: Any,
) -> None:
    rig = rigs(gated=True)
    rig.release()
    for version in ("v1", "v2"):
        number = await start(rig, f"/deploy orders {version} prod")
        await until_ended(rig, number)
        for _ in range(3):  # each passes its gate
            rig.clock.advance(31)
            await rig.app.engine.tick()
    window = await window_of(rig, number)
    assert window.ends_at > rig.clock.now()  # still in v2's grace
    result = await rig.app.ingest.ingest([firing("OrdersDown", severity="critical")])
    await rig.app.engine.tick()
    await rig.app.engine.tick()
    async with rig.app.services.db.connect() as conn:
        stmt = select(runs).where(runs.c.action == "rollback")
        rollbacks = (await conn.execute(stmt)).all()
    assert [(r.version, r.incident_id) for r in rollbacks] == [("v1", result.incident_ids[0])]
    assert await page_rows(rig)  # and the P0 paged
