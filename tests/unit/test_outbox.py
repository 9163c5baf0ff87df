"""The outbox worker: coalescing, priorities, rate limits, Retry-After, failures, storm digests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.model import ActionKind
from bot.outbox.enqueue import Outbox
from bot.ports import ChatCapabilities
from bot.store.db import Database
from bot.store.tables import digests, outbox
from tests.support import RecordingPlatform, firing, gone, make_settings, resolved, retry_later
from tests.unit.test_dispatch import incident, press


def wire(db: Database, clock: FakeClock, chat: RecordingPlatform, **overrides: Any) -> Tocsin:
    app = bootstrap(make_settings(**overrides), clock=clock, platforms={"fake": chat}, database=db)
    return app


async def ingest(app: Tocsin, *events: Any) -> Any:
    return await app.ingest.ingest(list(events))


async def statuses(app: Tocsin) -> list[str]:
    async with app.services.db.connect() as conn:
        return [r.status for r in (await conn.execute(select(outbox).order_by(outbox.c.id)))]


async def test_many_updates_to_one_card_coalesce(
    tocsin: Tocsin, chat: RecordingPlatform, clock: FakeClock
) -> None:
    result = await ingest(tocsin, firing())
    ref = f"incident:{result.incident_ids[0]}"
    await tocsin.engine.tick()
    for n in range(2, 12):
        await ingest(tocsin, firing(instance=f"i-{n}"))
    await press(tocsin, "U-ALICE", ActionKind.ACK, ref)
    await tocsin.engine.tick()
    [update] = chat.ops("update")
    assert update.card is not None and update.card.status == "acknowledged"
    assert "11 firing of 11" in [f.value for f in update.card.fields][3]
    assert set(await statuses(tocsin)) == {"sent"}


async def test_p0_jumps_the_queue(db: Database, clock: FakeClock) -> None:
    chat = RecordingPlatform()
    app = wire(db, clock, chat)
    await ingest(app, firing("Low", severity="info"), firing("Warn", severity="warning"))
    await ingest(app, firing("Fire", severity="critical"))
    await app.engine.tick()
    assert [s.card.tier.value for s in chat.ops("post")] == ["P0", "P2", "P3"]  # type: ignore[union-attr]


async def test_rate_limit_spreads_deliveries(db: Database, clock: FakeClock) -> None:
    # a burst of 3 for the platform: Tocsin spends 2 of it and keeps one spare
    chat = RecordingPlatform(capabilities=ChatCapabilities(rate_per_second=1, burst=3))
    app = wire(db, clock, chat)
    await ingest(app, *(firing(f"A{n}", severity="warning") for n in range(5)))
    await app.engine.tick()
    assert len(chat.ops("post")) == 2
    clock.advance(1.0)
    await app.engine.tick()
    assert len(chat.ops("post")) == 3
    clock.advance(5.0)
    await app.engine.tick()
    assert len(chat.ops("post")) == 5


async def test_retry_after_is_honoured_and_nothing_is_lost(db: Database, clock: FakeClock) -> None:
    chat = RecordingPlatform()
    app = wire(db, clock, chat)
    chat.fail_next = [retry_later(30)]
    await ingest(app, firing())
    await app.engine.tick()
    assert chat.sent == [] and await statuses(app) == ["pending"]
    clock.advance(29)
    await app.engine.tick()
    assert chat.sent == []
    clock.advance(2)
    await app.engine.tick()
    assert len(chat.ops("post")) == 1 and await statuses(app) == ["sent"]


async def test_transient_failures_back_off_then_give_up(db: Database, clock: FakeClock) -> None:
    chat = RecordingPlatform()
    app = wire(db, clock, chat, outbox={"max_attempts": 3, "base_backoff": "10s"})
    chat.fail_next = [retry_later(), retry_later(), retry_later()]
    await ingest(app, firing())
    await app.engine.tick()
    clock.advance(9)
    await app.engine.tick()
    assert len(chat.fail_next) == 2  # still backing off
    clock.advance(2)
    await app.engine.tick()
    clock.advance(21)
    await app.engine.tick()
    assert chat.fail_next == [] and await statuses(app) == ["failed"]
    assert app.services.metrics.outbox_failed._value.get() == 1


async def test_permanent_failure_is_not_retried(db: Database, clock: FakeClock) -> None:
    chat = RecordingPlatform()
    app = wire(db, clock, chat)
    chat.fail_next = [gone()]
    await ingest(app, firing())
    await app.engine.tick()
    async with app.services.db.connect() as conn:
        row = (await conn.execute(select(outbox))).one()
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "channel_not_found")


async def test_unknown_platform_fails_clearly(db: Database, clock: FakeClock) -> None:
    app = wire(
        db, clock, RecordingPlatform(), routes=[{"matchers": [], "destinations": ["nowhere:ops"]}]
    )
    await ingest(app, firing())
    await app.engine.tick()
    async with app.services.db.connect() as conn:
        row = (await conn.execute(select(outbox))).one()
    assert row.status == "failed" and "no chat platform 'nowhere'" in row.last_error


async def test_alert_storm_folds_into_one_digest_and_counts_everything(
    db: Database, clock: FakeClock
) -> None:
    # 20 messages per minute, like a DingTalk or WeCom group robot
    chat = RecordingPlatform(capabilities=ChatCapabilities(rate_per_second=20 / 60, burst=5))
    app = wire(db, clock, chat, outbox={"storm_horizon": "60s"})
    events = [firing(f"Storm{n}", service=f"svc{n % 4}", severity="warning") for n in range(60)]
    result = await ingest(app, *events)
    assert result.opened == 60
    for _ in range(40):  # a few minutes of engine passes
        await app.engine.tick()
        clock.advance(5)
    posts = chat.ops("post")
    digests = [p for p in posts if p.card and p.card.ref.startswith("digest:")]
    singles = [p for p in posts if p.card and p.card.ref.startswith("incident:")]
    assert len(digests) == 1 and len(singles) < 30
    digest = [s.card for s in chat.sent if s.card and s.card.ref.startswith("digest:")][-1]
    assert digest is not None
    assert f"{60 - len(singles)} incidents" in digest.title  # every folded incident is counted
    assert len(chat.sent) <= 5 + 20 * 200 / 60 + 1  # never over the platform's budget


@pytest.mark.parametrize("folded", [True, False])
async def test_a_p0_storm_folds_into_a_p0_digest_unless_told_not_to(
    db: Database, clock: FakeClock, folded: bool
) -> None:
    chat = RecordingPlatform(capabilities=ChatCapabilities(rate_per_second=1, burst=3))
    tiers = ["P0", "P1", "P2", "P3"] if folded else ["P1", "P2", "P3"]
    app = wire(db, clock, chat, outbox={"storm_horizon": "10s", "storm_tiers": tiers})
    await ingest(app, *(firing(f"Down{n}", service=f"svc{n}") for n in range(40)))  # all P0
    for _ in range(30):  # half a minute at one message a second
        await app.engine.tick()
        clock.advance(1)
    cards = [s.card for s in chat.sent if s.card is not None]
    digests = [c for c in cards if c.ref.startswith("digest:")]
    singles = {c.ref for c in cards if c.ref.startswith("incident:")}
    if not folded:  # one card each: the chat's queue is 40 P0 cards long
        assert digests == [] and len(singles) < 40
        return
    assert digests and digests[-1].tier is not None and digests[-1].tier.value == "P0"
    # within half a minute every incident is on a card or counted in the digest
    assert f"{40 - len(singles)} incidents" in digests[-1].title


async def test_digest_buttons_act_on_every_folded_incident(db: Database, clock: FakeClock) -> None:
    chat = RecordingPlatform(capabilities=ChatCapabilities(rate_per_second=20 / 60, burst=1))
    app = wire(db, clock, chat, outbox={"storm_horizon": "10s"})
    await ingest(app, *(firing(f"Storm{n}", severity="warning") for n in range(10)))
    await app.engine.tick()
    async with app.services.db.connect() as conn:
        refs = {r.card_ref for r in (await conn.execute(select(outbox)))}
    digest_ref = next(r for r in refs if r.startswith("digest:"))
    async with app.services.db.connect() as conn:
        folded = (await conn.execute(select(digests.c.incident_ids))).scalar_one()
    assert 0 < len(folded) < 10
    denied = await press(app, "U-CAROL", ActionKind.ACK, digest_ref)
    assert "Not allowed for" in denied.text
    reply = await press(app, "U-ALICE", ActionKind.ACK, digest_ref)
    assert reply.ok and f"{len(folded)} of {len(folded)} incidents: acknowledged" in reply.text
    statuses = {n: (await incident(app, n)).status for n in range(1, 11)}
    assert {n for n, s in statuses.items() if s == "acknowledged"} == set(folded)


async def test_link_only_platform_gets_signed_action_links(db: Database, clock: FakeClock) -> None:
    chat = RecordingPlatform(
        capabilities=ChatCapabilities(buttons=False, rate_per_second=10, burst=10)
    )
    app = wire(db, clock, chat)
    await ingest(app, firing())
    await app.engine.tick()
    [post] = chat.ops("post")
    assert post.card is not None
    urls = [b.url for b in post.card.buttons]
    assert all(u and u.startswith("http://tocsin.test/a/") for u in urls)


async def test_minor_updates_wait_a_little_and_state_changes_do_not(
    tocsin: Tocsin, chat: RecordingPlatform, clock: FakeClock
) -> None:
    await ingest(tocsin, firing(instance="i-1"))
    await tocsin.engine.tick()
    joined = await ingest(tocsin, firing(instance="i-2"))
    assert not joined.urgent  # one more alert in the group: the card can wait a moment
    await tocsin.engine.tick()
    assert chat.ops("update") == []
    clock.advance(2)
    await tocsin.engine.tick()
    [update] = chat.ops("update")
    assert update.card is not None and "2 firing of 2" in update.card.fields[3].value
    escalated = await ingest(tocsin, firing(instance="i-3", severity="critical", service="x"))
    assert escalated.urgent  # a new incident goes at once
    done = await ingest(tocsin, resolved(instance="i-1"), resolved(instance="i-2"))
    assert done.urgent and done.resolved == 1
    await tocsin.engine.tick()
    assert chat.ops("update")[-1].card.status == "resolved"  # type: ignore[union-attr]


async def test_two_replicas_deliver_each_message_once(db: Database, clock: FakeClock) -> None:
    """Two Tocsin processes on one database: claims keep them from sending anything twice."""
    chat = RecordingPlatform()
    first, second = wire(db, clock, chat), wire(db, clock, chat)
    await ingest(first, *(firing(f"Replica{n}", severity="warning") for n in range(30)))
    await asyncio.gather(first.engine.tick(), second.engine.tick(), first.engine.tick())
    posts = [s.card.ref for s in chat.ops("post") if s.card]
    assert len(posts) == 30 and len(set(posts)) == 30
    assert set(await statuses(first)) == {"sent"}


async def test_platforms_that_cannot_edit_get_a_new_message_only_for_news(
    db: Database, clock: FakeClock
) -> None:
    chat = RecordingPlatform(
        capabilities=ChatCapabilities(update_in_place=False, rate_per_second=10, burst=10)
    )
    app = wire(db, clock, chat)
    result = await ingest(app, firing(instance="i-1"))
    await app.engine.tick()
    await ingest(app, firing(instance="i-2"))  # one more alert: the count changes, nothing else
    clock.advance(3)
    await app.engine.tick()
    assert len(chat.ops("post")) == 1 and chat.ops("update") == []
    await press(app, "U-ALICE", ActionKind.ACK, f"incident:{result.incident_ids[0]}")
    await app.engine.tick()
    posts = chat.ops("post")
    assert [p.card.status for p in posts] == ["triggered", "acknowledged"]  # type: ignore[union-attr]
    assert set(await statuses(app)) == {"sent"}


async def test_a_storm_in_one_chat_leaves_room_for_the_others(
    db: Database, clock: FakeClock
) -> None:
    chat = RecordingPlatform(capabilities=ChatCapabilities(rate_per_second=1, burst=3))
    app = wire(db, clock, chat)
    now = clock.now()
    storm = Outbox.text_rows(["fake:ops"] * 400, "incident.retriggered", {"id": 1}, now=now)
    other = Outbox.text_rows(["fake:other"], "incident.retriggered", {"id": 2}, now=now)
    async with app.services.db.begin() as conn:
        await Outbox.insert(conn, [{**row, "priority": 0} for row in storm])
        await Outbox.insert(conn, [{**row, "priority": 3} for row in other])

    await app.engine.tick()

    # 400 urgent messages wait for the busy chat's budget; the quiet chat's goes at once
    sent = [s.dest for s in chat.sent]
    assert "other" in sent or "fake:other" in sent, sent
    assert len(sent) == 3, sent  # the busy chat's burst (one short of 3), and the quiet one
