"""Cards through the core's outbox to the fake Slack: Retry-After is honoured by the outbox (the
card is posted after the wait, never lost), and a route to ``slack:@…`` is a direct message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fake_slack import FakeSlackApi
from slack_support import ALICE, CHANNEL, card_refs
from sqlalchemy import select

from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.store.tables import outbox
from tests.support import firing


async def pending(tocsin: Tocsin) -> list[tuple[str, int]]:
    async with tocsin.services.db.connect() as conn:
        rows = (await conn.execute(select(outbox).where(outbox.c.status == "pending"))).all()
    return [(r.destination, r.attempts) for r in rows]


async def test_retry_after_is_honoured_through_the_outbox(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="http")
    slack_api.fail("chat.postMessage", status=429, error="ratelimited", retry_after=3)
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    assert slack_api.in_channel(CHANNEL) == []
    assert await pending(tocsin) == [(f"slack:{CHANNEL}", 1)]

    clock.advance(timedelta(seconds=2))
    await tocsin.engine.tick()
    assert len(slack_api.calls_to("chat.postMessage")) == 1, "nothing before Retry-After"

    clock.advance(timedelta(seconds=1.5))
    await tocsin.engine.tick()
    (posted,) = slack_api.in_channel(CHANNEL)
    assert len(slack_api.calls_to("chat.postMessage")) == 2
    assert await pending(tocsin) == []
    assert await card_refs(tocsin) == [{"channel": CHANNEL, "ts": posted.ts}]


async def test_a_route_to_a_person_is_a_direct_message(
    make_tocsin: Callable[..., Tocsin], slack_api: FakeSlackApi
) -> None:
    tocsin = make_tocsin(mode="http", extra_destinations=[f"slack:@{ALICE}"])
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    (direct,) = slack_api.in_channel("D0ALICE")
    assert direct.blocks[0]["type"] == "header"
    assert slack_api.calls_to("conversations.open")[0].params["users"] == ALICE
    refs = await card_refs(tocsin)
    assert {"channel": "D0ALICE", "ts": direct.ts} in refs and len(refs) == 2
