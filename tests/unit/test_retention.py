"""Data retention: what pruning deletes and keeps, dry runs, the audit anchor, steady state."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import ColumnElement, func, select, text, update
from sqlalchemy.sql.schema import Table

from bot.audit import AuditEntry, append, verify
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.errors import ConfigError
from bot.retention import RetentionPass, prune
from bot.settings import parse_settings
from bot.store.db import Database
from bot.store.tables import (
    alerts,
    audit_anchor,
    audit_log,
    card_posts,
    console_messages,
    digests,
    escalation_log,
    escalations,
    gate_measurements,
    gate_runs,
    inbound_events,
    incidents,
    outbox,
    page_receipts,
    page_sends,
    pages,
)
from tests.support import RecordingPlatform, base_config, firing, make_settings, resolved

DAY = timedelta(days=1)


async def count(db: Database, table: Table, where: ColumnElement[bool] | None = None) -> int:
    stmt = select(func.count()).select_from(table)
    if where is not None:
        stmt = stmt.where(where)
    async with db.connect() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def incident_id(app: Tocsin, name: str) -> int:
    async with app.services.db.connect() as conn:
        stmt = select(incidents.c.id).where(incidents.c.title.contains(name)).limit(1)
        return int((await conn.execute(stmt.order_by(incidents.c.id.desc()))).scalar_one())


def with_retention(db: Database, clock: FakeClock, chat: RecordingPlatform, **keys: Any) -> Tocsin:
    app = bootstrap(
        make_settings(retention=keys), clock=clock, platforms={"fake": chat}, database=db
    )
    return app


async def belongs(db: Database, iid: int) -> dict[str, int]:
    """Rows of every table that hang off incident `iid`."""
    return {
        "incidents": await count(db, incidents, incidents.c.id == iid),
        "alerts": await count(db, alerts, alerts.c.incident_id == iid),
        "card_posts": await count(db, card_posts, card_posts.c.card_ref == f"incident:{iid}"),
        "escalations": await count(db, escalations, escalations.c.incident_id == iid),
        "escalation_log": await count(db, escalation_log, escalation_log.c.incident_id == iid),
    }


async def test_old_resolved_incidents_go_with_their_rows_open_and_recent_ones_stay(
    tocsin: Tocsin, clock: FakeClock, db: Database
) -> None:
    await tocsin.ingest.ingest([firing("OldResolved"), firing("StillOpen")])
    await tocsin.engine.tick()
    await tocsin.ingest.ingest([resolved("OldResolved")])
    await tocsin.engine.tick()
    old, still_open = (
        await incident_id(tocsin, "OldResolved"),
        await incident_id(tocsin, "StillOpen"),
    )
    before = await belongs(db, old)
    assert before["incidents"] == before["alerts"] == before["card_posts"] == 1
    assert before["escalations"] == 1 and before["escalation_log"] >= 1

    clock.advance(181 * DAY)
    await tocsin.ingest.ingest([firing("Fresh"), firing("JustResolved")])
    await tocsin.engine.tick()
    await tocsin.ingest.ingest([resolved("JustResolved")])
    await tocsin.engine.tick()
    kept = [
        still_open,
        await incident_id(tocsin, "Fresh"),
        await incident_id(tocsin, "JustResolved"),
    ]

    await prune(db, tocsin.settings, clock.now())  # (the engine's own pass may have been first)

    assert await belongs(db, old) == dict.fromkeys(before, 0)
    for iid in kept:
        assert (await belongs(db, iid))["incidents"] == 1
        assert (await belongs(db, iid))["alerts"] == 1
    assert await count(db, incidents) == 3
    await tocsin.engine.tick()  # the engine carries on around the gap


async def test_an_incident_whose_card_still_waits_is_kept_until_it_went_out(
    tocsin: Tocsin, clock: FakeClock, db: Database
) -> None:
    await tocsin.ingest.ingest([firing("Waiting")])
    await tocsin.engine.tick()
    await tocsin.ingest.ingest([resolved("Waiting")])
    await tocsin.engine.tick()
    iid = await incident_id(tocsin, "Waiting")
    clock.advance(200 * DAY)
    async with db.begin() as conn:
        await tocsin.services.outbox.card(
            conn, f"incident:{iid}", ["fake:ops"], priority=3, now=clock.now()
        )

    await prune(db, tocsin.settings, clock.now())
    assert (await belongs(db, iid))["incidents"] == 1

    await tocsin.engine.tick()  # delivered
    await prune(db, tocsin.settings, clock.now())
    assert (await belongs(db, iid))["incidents"] == 0


async def test_finished_outbox_rows_go_waiting_ones_stay(
    tocsin: Tocsin, clock: FakeClock, db: Database
) -> None:
    start = clock.now()
    rows = tocsin.services.outbox.text_rows(["fake:ops"] * 4, "help.title", {}, now=start)
    async with db.begin() as conn:
        await conn.execute(outbox.insert(), rows)
        ids = list((await conn.execute(select(outbox.c.id).order_by(outbox.c.id))).scalars())
        await conn.execute(update(outbox).where(outbox.c.id == ids[0]).values(status="sent"))
        await conn.execute(update(outbox).where(outbox.c.id == ids[1]).values(status="failed"))
        # ids[2] waits (an unreachable chat), ids[3] is sent but recent (below)
        await conn.execute(
            update(outbox).where(outbox.c.id == ids[2]).values(next_attempt_at=start + 30 * DAY)
        )
    clock.advance(8 * DAY)
    async with db.begin() as conn:
        await conn.execute(
            update(outbox)
            .where(outbox.c.id == ids[3])
            .values(status="sent", created_at=clock.now(), next_attempt_at=clock.now())
        )

    report = await prune(db, tocsin.settings, clock.now())

    async with db.connect() as conn:
        left = list((await conn.execute(select(outbox.c.id).order_by(outbox.c.id))).scalars())
    assert left == ids[2:] and report.rows["outbox"] == 2


async def test_inbound_events_go_after_the_window_but_never_before_links_expire(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = with_retention(db, clock, chat, inbound_events="1d")
    now = clock.now()
    ages = {"slack:old": 3 * DAY, "link:abc": 25 * timedelta(hours=1) - timedelta(minutes=1)}
    ages |= {"slack:fresh": timedelta(hours=2), "link:old": 26 * timedelta(hours=1)}
    async with db.begin() as conn:
        for key, age in ages.items():
            platform, event_id = key.split(":")
            await conn.execute(
                inbound_events.insert().values(
                    platform=platform, event_id=event_id, received_at=now - age
                )
            )

    report = await prune(db, app.settings, now)

    async with db.connect() as conn:
        left = {f"{r.platform}:{r.event_id}" for r in await conn.execute(select(inbound_events))}
    # action links live 24 h (cards) or paging.link_ttl: their nonces outlive them
    assert left == {"slack:fresh", "link:abc"} and report.rows["inbound_events"] == 2
    assert report.cutoffs["inbound_events"].before == now - timedelta(hours=25)


async def test_dry_run_counts_what_a_prune_deletes_and_deletes_nothing(
    tocsin: Tocsin, clock: FakeClock, db: Database
) -> None:
    for n in range(3):
        await tocsin.ingest.ingest(
            [firing(f"Dry{n}", instance="a"), firing(f"Dry{n}", instance="b")]
        )
        await tocsin.engine.tick()
        await tocsin.ingest.ingest(
            [resolved(f"Dry{n}", instance="a"), resolved(f"Dry{n}", instance="b")]
        )
        await tocsin.engine.tick()
    clock.advance(365 * DAY)
    sizes = {t.name: await count(db, t) for t in (incidents, alerts, outbox, card_posts)}

    dry = await prune(db, tocsin.settings, clock.now(), dry_run=True)

    assert {t.name: await count(db, t) for t in (incidents, alerts, outbox, card_posts)} == sizes
    assert dry.dry_run and dry.rows["incidents"] == 3 and dry.rows["alerts"] == 6
    assert dry.rows["outbox"] == sizes["outbox"] > 0
    wet = await prune(db, tocsin.settings, clock.now())
    assert wet.rows == dry.rows
    assert await count(db, incidents) == 0 and await count(db, alerts) == 0
    text = "\n".join(dry.lines())
    assert "Would delete (dry run, nothing deleted):" in text and "audit_log" in text
    assert "kept forever" in text


async def write_audit(db: Database, at: datetime, n: int) -> None:
    for i in range(n):
        async with db.begin() as conn:
            entry = AuditEntry("alice", "slack", "button:ack", f"incident:{i}", "allowed", {"i": i})
            await append(db, conn, entry, at)


async def test_pruned_audit_log_still_verifies_and_still_shows_tampering(
    db: Database, clock: FakeClock
) -> None:
    settings = make_settings(retention={"audit_log": "30d", "batch_size": 10})
    await write_audit(db, clock.now(), 25)
    clock.advance(40 * DAY)
    await write_audit(db, clock.now(), 3)

    report = await prune(db, settings, clock.now())

    assert report.rows["audit_log"] == 25 and not report.problems
    result = await verify(db)
    # 3 recent entries plus one entry per batch recording what was pruned
    assert result.ok and result.pruned_to == 25 and result.rows == 3 + 3
    async with db.begin() as conn:
        first = (await conn.execute(select(func.min(audit_log.c.id)))).scalar_one()
        await conn.execute(update(audit_log).where(audit_log.c.id == first).values(actor="mallory"))
    tampered = await verify(db)
    assert not tampered.ok and "content was changed" in tampered.problem


async def test_a_moved_audit_anchor_is_detected(db: Database, clock: FakeClock) -> None:
    settings = make_settings(retention={"audit_log": "30d", "batch_size": 10})
    await write_audit(db, clock.now(), 12)
    clock.advance(40 * DAY)
    await write_audit(db, clock.now(), 2)
    await prune(db, settings, clock.now())
    assert (await verify(db)).ok
    async with db.begin() as conn:  # hide the first recent entries behind the anchor
        row = (await conn.execute(select(audit_log).where(audit_log.c.id == 13))).one()
        await conn.execute(audit_log.delete().where(audit_log.c.id == 13))
        await conn.execute(update(audit_anchor).values(last_id=13, last_hash=row.hash))
    result = await verify(db)
    assert not result.ok and "anchor" in result.problem


async def test_pruning_refuses_to_hide_a_tampered_audit_entry(
    db: Database, clock: FakeClock
) -> None:
    settings = make_settings(retention={"audit_log": "30d"})
    await write_audit(db, clock.now(), 5)
    async with db.begin() as conn:
        await conn.execute(update(audit_log).where(audit_log.c.id == 2).values(outcome="denied"))
    clock.advance(40 * DAY)

    report = await prune(db, settings, clock.now())

    assert report.rows["audit_log"] == 0 and "does not verify" in report.problems[0]
    assert await count(db, audit_log) == 5
    assert "row 2: content was changed" in (await verify(db)).problem


async def test_replicas_pruning_at_once_delete_each_row_once(
    tocsin: Tocsin, clock: FakeClock, db: Database
) -> None:
    settings = make_settings(retention={"batch_size": 10})
    now = clock.now()
    async with db.begin() as conn:
        await conn.execute(
            inbound_events.insert(),
            [
                {"platform": "slack", "event_id": f"e{n}", "received_at": now - 10 * DAY}
                for n in range(95)
            ],
        )
    other = Database(db.url)
    try:
        reports = await asyncio.gather(prune(db, settings, now), prune(other, settings, now))
    finally:
        await other.dispose()
    assert sum(r.rows["inbound_events"] for r in reports) == 95
    assert await count(db, inbound_events) == 0


async def test_one_replica_claims_each_pass(db: Database, clock: FakeClock) -> None:
    tocsin = bootstrap(make_settings(), clock=clock, platforms={}, database=db)
    first = RetentionPass(tocsin.settings, db, tocsin.services.metrics)
    second = RetentionPass(tocsin.settings, db, tocsin.services.metrics)
    every = tocsin.settings.retention.interval

    async def claims(*passes: RetentionPass) -> list[bool]:
        now = clock.now()
        return [await p.slot.claim(now, every, first_at_once=False) is not None for p in passes]

    assert await claims(first) == [False]  # the first start: due one interval later
    clock.advance(timedelta(minutes=11))
    assert await claims(first, second) == [True, False]
    clock.advance(timedelta(minutes=5))
    assert await claims(second) == [False]
    clock.advance(timedelta(minutes=6))
    assert await claims(second) == [True]


async def test_row_counts_stop_growing_under_load_with_retention(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = with_retention(
        db,
        clock,
        chat,
        incidents="1d",
        pages="1d",
        outbox="1d",
        inbound_events="1d",
        audit_log="30d",
    )
    tables = (incidents, alerts, card_posts, outbox, escalations, escalation_log, audit_log)
    seen: list[dict[str, int]] = []
    for day in range(10):
        events = [firing(f"Load{day}x{n}") for n in range(4)]
        await app.ingest.ingest(events)
        await app.engine.tick()
        await app.ingest.ingest([resolved(f"Load{day}x{n}") for n in range(4)])
        await app.engine.tick()
        async with db.begin() as conn:
            await conn.execute(
                inbound_events.insert(),
                [
                    {"platform": "fake", "event_id": f"{day}-{n}", "received_at": clock.now()}
                    for n in range(5)
                ],
            )
        await write_audit(db, clock.now(), 3)
        clock.advance(10 * DAY)
        await app.engine.tick()  # the retention pass is due: it prunes
        seen.append({t.name: await count(db, t) for t in (*tables, inbound_events)})
    assert seen[-1] == seen[-2] == seen[-3]
    assert seen[-1]["incidents"] == 0 and seen[-1]["inbound_events"] == 0
    assert 0 < seen[-1]["audit_log"] < 3 * 10


async def test_table_rows_on_metrics(tocsin: Tocsin) -> None:
    await tocsin.ingest.ingest([firing(instance="a"), firing(instance="b")])
    if not tocsin.services.db.is_sqlite:  # estimates come from autovacuum's ANALYZE
        async with tocsin.services.db.autocommit() as conn:
            await conn.execute(text("ANALYZE"))
    transport = httpx.ASGITransport(app=tocsin.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        body = (await client.get("/metrics")).text
    assert 'tocsin_table_rows{table="alerts"} 2.0' in body
    assert 'tocsin_table_rows{table="incidents"} 1.0' in body


def test_retention_settings_defaults_and_refusals() -> None:
    defaults = make_settings().retention
    assert (defaults.incidents, defaults.outbox, defaults.inbound_events) == (
        180 * DAY,
        7 * DAY,
        7 * DAY,
    )
    assert defaults.audit_log is None and defaults.batch_size == 500
    forever = make_settings(retention={"incidents": None, "console_messages": 0}).retention
    assert forever.incidents is None and forever.console_messages is None
    with pytest.raises(ConfigError) as caught:
        parse_settings(base_config(retention={"inbound_events": "1h", "interval": "5s"}), env={})
    [short, interval] = caught.value.problems
    assert short.startswith("retention.inbound_events: keep these at least 1d")
    assert "retry" in short or "re-deliver" in short
    assert interval.startswith("retention.interval:")


async def test_pages_digests_console_and_gate_samples_follow_their_own_ages(
    tocsin: Tocsin, clock: FakeClock, db: Database
) -> None:
    await tocsin.ingest.ingest([firing("Paged"), firing("Open")])
    await tocsin.engine.tick()
    await tocsin.ingest.ingest([resolved("Paged")])
    await tocsin.engine.tick()
    paged, still_open = await incident_id(tocsin, "Paged"), await incident_id(tocsin, "Open")
    start = clock.now()
    page = {
        "cycle": 1,
        "loop": 0,
        "step": 0,
        "channel": "sms",
        "address": "+1555",
        "status": "sent",
    }
    when = {"created_at": start, "updated_at": start}
    sent = {"sent_at": start, "updated_at": start}
    async with db.begin() as conn:
        await conn.execute(
            pages.insert(),
            [
                {**page, "incident_id": paged, "recipient": "alice", "created_at": start},
                {**page, "incident_id": still_open, "recipient": "bob", "created_at": start},
            ],
        )
        send = {"provider": "twilio", "position": 0, "status": "delivered", "detail": ""}
        await conn.execute(
            page_sends.insert(),
            [
                {**send, "page_id": 1, "incident_id": paged, "provider_ref": "SM1", **sent},
                {**send, "page_id": 2, "incident_id": still_open, "provider_ref": "SM2", **sent},
            ],
        )
        await conn.execute(
            page_receipts.insert().values(
                provider="twilio",
                provider_ref="SM9",
                status="delivered",
                detail="",
                at=start,
                received_at=start,
                applied=False,
            )
        )
        await conn.execute(
            digests.insert(),
            [
                {"destination": "fake:a", "open": False, "incident_ids": [paged], **when},
                {
                    "destination": "fake:b",
                    "open": False,
                    "incident_ids": [paged, still_open],
                    **when,
                },
            ],
        )
        await conn.execute(
            console_messages.insert().values(
                chat="ops", kind="text", author="tocsin", created_at=start, updated_at=start
            )
        )
        gate = await conn.execute(
            gate_runs.insert().values(
                run_id=1,
                service="orders",
                environment="prod",
                version="v1",
                after_rollback=False,
                mode="manual",
                state="passed",
                started_at=start,
                decided_at=start,
            )
        )
        await conn.execute(
            gate_measurements.insert().values(
                gate_run_id=gate.inserted_primary_key[0], metric="errors", at=start, outcome="ok"
            )
        )
    clock.advance(100 * DAY)  # past pages, console and gate samples; not past incidents

    report = await prune(db, tocsin.settings, clock.now())

    assert (await belongs(db, paged))["incidents"] == 1  # the incident stays for 180 days
    assert await count(db, pages, pages.c.incident_id == paged) == 0
    assert await count(db, escalation_log, escalation_log.c.incident_id == paged) == 0
    assert await count(db, pages, pages.c.incident_id == still_open) == 1  # open: kept
    assert await count(db, page_sends, page_sends.c.incident_id == paged) == 0
    assert await count(db, page_sends, page_sends.c.incident_id == still_open) == 1
    assert await count(db, page_receipts) == 0  # one no send claimed waits no longer
    assert await count(db, console_messages) == 0 and await count(db, gate_measurements) == 0
    assert await count(db, gate_runs) == 1 and report.rows["gate_measurements"] == 1
    assert await count(db, digests) == 2  # their incidents are still there

    clock.advance(100 * DAY)
    await prune(db, tocsin.settings, clock.now())
    async with db.connect() as conn:
        left = [r.incident_ids for r in await conn.execute(select(digests))]
    assert left == [[paged, still_open]]  # the one naming an open incident stays
