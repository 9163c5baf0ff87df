"""Alert ingest: de-duplication, grouping, resolution, reopening and flapping, on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.alerts.ingest import IngestService
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.store.tables import alerts, incidents, outbox
from tests.support import RecordingPlatform, firing, make_settings, resolved


def ingest_of(app: Tocsin) -> IngestService:
    return app.ingest


async def incident_rows(app: Tocsin) -> list:
    async with app.services.db.connect() as conn:
        return list((await conn.execute(select(incidents).order_by(incidents.c.id))).all())


async def test_new_alert_opens_an_incident_and_posts_one_card(
    tocsin: Tocsin, chat: RecordingPlatform
) -> None:
    result = await ingest_of(tocsin).ingest([firing()])
    assert (result.received, result.opened, result.deduplicated) == (1, 1, 0)
    await tocsin.engine.tick()
    [row] = await incident_rows(tocsin)
    assert (row.status, row.tier, row.service, row.environment) == (
        "triggered",
        "P0",
        "orders",
        "prod",
    )
    assert row.firing_count == 1 and row.destinations == ["fake:ops"]
    [post] = chat.ops("post")
    assert post.card is not None and post.card.tier is not None
    assert post.card.tier.value == "P0" and post.card.ref == f"incident:{row.id}"
    assert [b.action.value for b in post.card.buttons] == [
        "ack",
        "silence",
        "silence",
        "silence",
        "resolve",
        "rollback",
    ]


async def test_repeated_fingerprint_is_deduplicated_and_changes_no_card(
    tocsin: Tocsin, chat: RecordingPlatform, clock: FakeClock
) -> None:
    svc = ingest_of(tocsin)
    await svc.ingest([firing()])
    await tocsin.engine.tick()
    again = await svc.ingest([firing(), firing()])
    assert again.deduplicated == 2 and again.opened == 0 and again.incident_ids == []
    await tocsin.engine.tick()
    assert len(chat.sent) == 1

    async def counted() -> tuple[int, object]:
        async with tocsin.services.db.connect() as conn:
            row = (await conn.execute(select(alerts))).one()
        return row.received_count, row.last_seen_at

    first_seen = clock.now()
    assert await counted() == (1, first_seen)  # repeat counters are written behind
    clock.advance(5)
    await svc.ingest([firing()])
    await tocsin.engine.tick()
    assert await counted() == (4, clock.now())


async def test_alerts_of_one_group_share_an_incident(
    tocsin: Tocsin, chat: RecordingPlatform
) -> None:
    svc = ingest_of(tocsin)
    await svc.ingest([firing(instance="i-1"), firing(instance="i-2")])
    await svc.ingest([firing(instance="i-3")])
    await tocsin.engine.tick()
    [row] = await incident_rows(tocsin)
    assert (row.firing_count, row.alert_count) == (3, 3)
    assert len(chat.ops("post")) == 1  # the card was posted once and never twice


async def test_source_group_key_groups_across_label_values(tocsin: Tocsin) -> None:
    svc = ingest_of(tocsin)
    await svc.ingest(
        [firing("A", group_key='{}:{env="prod"}'), firing("B", group_key='{}:{env="prod"}')]
    )
    assert len(await incident_rows(tocsin)) == 1


async def test_resolving_every_alert_resolves_the_incident_and_its_card(
    tocsin: Tocsin, chat: RecordingPlatform
) -> None:
    svc = ingest_of(tocsin)
    await svc.ingest([firing(instance="i-1"), firing(instance="i-2")])
    await tocsin.engine.tick()
    half = await svc.ingest([resolved(instance="i-1")])
    assert half.resolved == 0
    done = await svc.ingest([resolved(instance="i-2")])
    assert done.resolved == 1
    await tocsin.engine.tick()
    [row] = await incident_rows(tocsin)
    assert (row.status, row.firing_count, row.resolved_by) == ("resolved", 0, "monitoring")
    update = chat.ops("update")[-1]
    assert update.card is not None and update.card.status == "resolved"
    assert update.card.buttons == ()
    assert update.ref == chat.ops("post")[0].ref  # the same message, updated in place


async def test_resolved_alert_never_seen_firing_is_ignored(tocsin: Tocsin) -> None:
    result = await ingest_of(tocsin).ingest([resolved()])
    assert result.ignored == 1 and await incident_rows(tocsin) == []


async def test_refiring_within_the_reopen_window_retriggers_the_same_incident(
    tocsin: Tocsin, clock: FakeClock, chat: RecordingPlatform
) -> None:
    svc = ingest_of(tocsin)
    await svc.ingest([firing()])
    await svc.ingest([resolved()])
    clock.advance(timedelta(minutes=20))
    again = await svc.ingest([firing()])
    assert again.opened == 0
    await tocsin.engine.tick()
    [row] = await incident_rows(tocsin)
    assert row.status == "triggered" and row.firing_count == 1
    assert any("fired again" in s.text for s in chat.ops("text"))


async def test_refiring_after_the_reopen_window_opens_a_new_incident(
    tocsin: Tocsin, clock: FakeClock
) -> None:
    svc = ingest_of(tocsin)
    await svc.ingest([firing()])
    await svc.ingest([resolved()])
    clock.advance(timedelta(hours=2))
    again = await svc.ingest([firing()])
    assert again.opened == 1
    rows = await incident_rows(tocsin)
    assert [r.status for r in rows] == ["resolved", "triggered"]


async def test_flapping_alert_is_damped_and_settles(
    tocsin: Tocsin, clock: FakeClock, chat: RecordingPlatform
) -> None:
    svc = ingest_of(tocsin)
    await svc.ingest([firing()])
    for _ in range(3):
        clock.advance(30)
        await svc.ingest([resolved()])
        clock.advance(30)
        await svc.ingest([firing()])
    clock.advance(30)
    await svc.ingest([resolved()])
    await tocsin.engine.tick()
    [row] = await incident_rows(tocsin)
    assert row.flapping and row.status != "resolved"  # not resolved while it flaps
    retrigger_texts = [s for s in chat.ops("text") if "fired again" in s.text]
    assert len(retrigger_texts) <= 1  # damped: no message per flip
    card = [s.card for s in chat.sent if s.card is not None][-1]
    assert "Flapping" in card.body
    clock.advance(timedelta(minutes=11))
    await tocsin.engine.tick()
    [row] = await incident_rows(tocsin)
    assert not row.flapping and row.status == "resolved"


async def test_more_severe_alert_raises_the_incident_tier(tocsin: Tocsin) -> None:
    svc = ingest_of(tocsin)
    await svc.ingest([firing(severity="warning", instance="i-1")])
    await svc.ingest([firing(severity="critical", instance="i-2")])
    rows = await incident_rows(tocsin)
    assert len(rows) == 1 and rows[0].tier == "P0"


async def test_continue_routes_and_first_match(db, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    from bot.bootstrap import bootstrap

    chat = RecordingPlatform()
    app = bootstrap(make_settings(), clock=clock, platforms={"fake": chat}, database=db)
    await ingest_of(app).ingest([firing(service="payments")])
    [row] = await incident_rows(app)
    assert row.route == "payments" and row.destinations == ["fake:payments", "fake:ops"]
    await app.engine.tick()
    assert sorted(s.dest for s in chat.ops("post")) == ["fake:ops", "fake:payments"]


async def test_unrouted_alert_is_kept_and_counted(db, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    from bot.bootstrap import bootstrap

    settings = make_settings(routes=[{"matchers": ['team="none"'], "destinations": ["fake:x"]}])
    app = bootstrap(settings, clock=clock, platforms={"fake": RecordingPlatform()}, database=db)
    result = await ingest_of(app).ingest([firing()])
    assert result.unrouted == 1
    [row] = await incident_rows(app)
    assert row.route == "unrouted" and row.destinations == []


async def test_one_request_writes_one_card_row_per_incident(tocsin: Tocsin) -> None:
    await ingest_of(tocsin).ingest([firing(instance=f"i-{n}") for n in range(20)])
    async with tocsin.services.db.connect() as conn:
        rows = (await conn.execute(select(outbox))).all()
    assert len(rows) == 1
