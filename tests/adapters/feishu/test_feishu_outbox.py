"""Cards through the core's outbox to the fake Feishu: a rate limit's reset time is honoured (the
card is posted after the wait, never lost), the per-chat budget is Feishu's, and a route to
``feishu:@…`` is a direct message. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fake_feishu import FakeOpenApi
from feishu_support import ALICE, CHAT, card_refs
from sqlalchemy import select

from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.store.tables import outbox
from tests.support import firing

CREATE = "POST /open-apis/im/v1/messages"


async def pending(tocsin: Tocsin) -> list[tuple[str, int]]:
    async with tocsin.services.db.connect() as conn:
        rows = (await conn.execute(select(outbox).where(outbox.c.status == "pending"))).all()
    return [(r.destination, r.attempts) for r in rows]


async def test_a_rate_limit_is_honoured_through_the_outbox(
    make_tocsin: Callable[..., Tocsin], open_api: FakeOpenApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(mode="webhook")
    open_api.fail(CREATE, status=429, code=99991400, headers={"x-ogw-ratelimit-reset": "3"})
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    assert open_api.cards_in(CHAT) == []
    assert await pending(tocsin) == [(f"feishu:{CHAT}", 1)]

    clock.advance(timedelta(seconds=2))
    await tocsin.engine.tick()
    assert len(open_api.calls_to(CREATE)) == 1, "nothing before the reset"

    clock.advance(timedelta(seconds=1.5))
    await tocsin.engine.tick()
    (posted,) = open_api.cards_in(CHAT)
    assert len(open_api.calls_to(CREATE)) == 2
    assert await pending(tocsin) == []
    assert await card_refs(tocsin) == [{"message_id": posted.message_id, "chat_id": CHAT}]


async def test_a_route_to_a_person_is_a_direct_message(
    make_tocsin: Callable[..., Tocsin], open_api: FakeOpenApi
) -> None:
    tocsin = make_tocsin(mode="webhook", extra_destinations=["feishu:@alice"])
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    (direct,) = open_api.direct(ALICE)
    assert direct.msg_type == "interactive" and direct.receive_id_type == "open_id"
    refs = await card_refs(tocsin)
    assert {"message_id": direct.message_id, "chat_id": direct.chat_id} in refs and len(refs) == 2


async def test_the_outbox_keeps_to_feishus_pace(
    make_tocsin: Callable[..., Tocsin], open_api: FakeOpenApi
) -> None:
    tocsin = make_tocsin(mode="webhook", rate_per_second=5, burst=5)
    budgets = tocsin.worker.budgets
    assert budgets.rate("feishu") == (5.0, 5)
    now = datetime(2026, 1, 5, tzinfo=UTC)
    grant = await budgets.take(f"feishu:{CHAT}", now, 10)
    assert grant.count == 4, "four at once (one of the burst kept spare), then Feishu's pace"
    assert grant.retry_at == now + timedelta(seconds=0.2)
    assert open_api.calls == []
