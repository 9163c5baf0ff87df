"""The demo's deploy loop as a new user meets it in the console: a prod deploy confirmed and
approved, a bad staging deploy failing, a rollback to the last verified version, all through the
shell backend running the demo's script for real."""

from __future__ import annotations

import asyncio
from itertools import count
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.bootstrap import Tocsin, bootstrap
from bot.demo import demo_settings
from bot.model import ActionKind, CardActionRequest, CommandRequest, Destination, Sender
from bot.store.tables import console_messages, gate_runs, runs

OPS = Destination("console", "ops")
_events = count(1)


def command(app: Tocsin, who: str, text: str) -> Any:
    return app.dispatcher.command(
        CommandRequest(
            text, Sender("console", who), OPS, f"c{next(_events)}", app.services.clock.now()
        )
    )


def press(app: Tocsin, who: str, action: ActionKind, run: int) -> Any:
    return app.dispatcher.action(
        CardActionRequest(
            action,
            f"run:{run}",
            "",
            Sender("console", who),
            OPS,
            f"p{next(_events)}",
            app.services.clock.now(),
        )
    )


async def until_done(app: Tocsin, number: int) -> Any:
    """Engine rounds until the run ends (the script takes about three seconds)."""
    for _ in range(120):
        await app.engine.tick()
        async with app.services.db.connect() as conn:
            row = (await conn.execute(select(runs).where(runs.c.id == number))).one()
        if row.finished_at is not None:
            return row
        await asyncio.sleep(0.25)
    raise AssertionError(f"run {number} did not end: {row.state} {row.message}")


async def until_verified(app: Tocsin, number: int) -> Any:
    for _ in range(240):
        await app.engine.tick()
        async with app.services.db.connect() as conn:
            row = (await conn.execute(select(runs).where(runs.c.id == number))).one()
        if row.verified:
            return row
        await asyncio.sleep(0.25)
    raise AssertionError(f"run {number} was never verified")


async def until_rolled_back(app: Tocsin, number: int) -> Any:
    """Engine rounds until the gate of run `number` has rolled it back and the rollback ended."""
    for _ in range(240):
        await app.engine.tick()
        async with app.services.db.connect() as conn:
            gate = (
                await conn.execute(select(gate_runs).where(gate_runs.c.run_id == number))
            ).first()
            rollback = None
            if gate is not None and gate.rollback_run_id:
                stmt = select(runs).where(runs.c.id == gate.rollback_run_id)
                rollback = (await conn.execute(stmt)).one()
        if rollback is not None and rollback.finished_at is not None:
            return rollback
        await asyncio.sleep(0.25)
    raise AssertionError(f"run {number} was not rolled back")


async def latest_run(app: Tocsin) -> int:
    async with app.services.db.connect() as conn:
        return int((await conn.execute(select(runs.c.id).order_by(runs.c.id.desc()))).scalar())


async def test_the_demo_deploys_fails_and_rolls_back_through_the_shell_backend(
    tmp_path: Path,
) -> None:
    settings = demo_settings(tmp_path / "demo", port=18099)
    app = bootstrap(settings)
    await app.start(run_engine=False)
    try:
        reply = await command(app, "alice", "/deploy orders v1.4.2 prod")
        assert reply.ok and "v1.4.1 → v1.4.2" in reply.text
        number = await latest_run(app)
        assert (await press(app, "alice", ActionKind.CONFIRM, number)).ok
        assert (await press(app, "carol", ActionKind.APPROVE, number)).ok
        row = await until_done(app, number)
        assert row.state == "succeeded" and not row.verified  # its health gate decides
        assert (await until_verified(app, number)).verified
        assert "orders v1.4.2 is live" in row.message
        assert (tmp_path / "demo" / "deployed" / "orders-prod.version").read_text() == "v1.4.2\n"

        await command(app, "bob", "/deploy orders v1.4.3-broken staging")
        bad = await latest_run(app)
        await press(app, "bob", ActionKind.CONFIRM, bad)
        row = await until_done(app, bad)
        assert row.state == "failed" and "replica 3 of 3 failed to start" in row.message

        reply = await command(app, "bob", "/rollback orders staging")
        assert reply.ok
        back = await latest_run(app)
        await press(app, "bob", ActionKind.CONFIRM, back)
        row = await until_done(app, back)
        assert (row.action, row.version, row.state) == ("rollback", "v1.4.1", "succeeded")

        history = await command(app, "carol", "/history orders")
        assert "rollback" in history.text and "v1.4.3-broken" in history.text

        # a release that goes live and breaks: the health gate rolls it back by itself
        await command(app, "bob", "/deploy orders v1.4.4-bad staging")
        broken = await latest_run(app)
        await press(app, "bob", ActionKind.CONFIRM, broken)
        row = await until_done(app, broken)
        assert row.state == "succeeded" and not row.verified
        restored = await until_rolled_back(app, broken)
        assert (restored.version, restored.state) == ("v1.4.1", "succeeded")
        errors = tmp_path / "demo" / "deployed" / "orders-staging.errors"
        assert errors.read_text() == "0.0\n"
        await app.engine.tick()
        async with app.services.db.connect() as conn:
            shown = (await conn.execute(select(console_messages.c.text))).scalars().all()
        assert any("v1.4.2 is deployed in prod; the health gate watches" in x for x in shown)
        assert any("✅ orders v1.4.2 in prod is verified" in text for text in shown)
        assert any(
            "🚨 Health gate failed for orders v1.4.4-bad in staging: error_rate" in text
            and "rolling back to v1.4.1" in text
            for text in shown
        )
        assert any("↩️ orders in staging rolled back to v1.4.1" in text for text in shown)
        assert not any("✅" in text and "v1.4.4-bad" in text for text in shown)
        history = await command(app, "alice", "/history orders staging")
        assert f"#{broken} deploy v1.4.1 → v1.4.4-bad · Rolled back" in history.text
    finally:
        await app.stop()


async def test_the_demo_storefront_goes_to_a_canary_first_and_a_bad_one_alone_is_taken_away(
    tmp_path: Path,
) -> None:
    settings = demo_settings(tmp_path / "demo", port=18099)
    app = bootstrap(settings)
    await app.start(run_engine=False)
    deployed = tmp_path / "demo" / "deployed"
    try:
        await command(app, "bob", "/deploy storefront v3.2.1-bad staging")
        canary = await latest_run(app)
        await press(app, "bob", ActionKind.CONFIRM, canary)
        row = await until_done(app, canary)
        assert (row.stage, row.canary_weight, row.state) == ("canary", 20, "succeeded")
        assert "on the canary (20% of requests)" in row.message
        assert (deployed / "storefront-staging.errors").read_text() == "0.06\n"  # 30 % of 20 %

        removal = await until_rolled_back(app, canary)
        assert (removal.stage, removal.version, removal.state) == ("canary", "v3.2.0", "succeeded")
        assert "canary taken away" in removal.message
        assert not (deployed / "storefront-staging.canary").exists()
        assert (deployed / "storefront-staging.errors").read_text() == "0.0\n"
        async with app.services.db.connect() as conn:
            actions = (await conn.execute(select(runs.c.action, runs.c.stage))).all()
        assert [tuple(a) for a in actions][-2:] == [("deploy", "canary"), ("rollback", "canary")]
    finally:
        await app.stop()
