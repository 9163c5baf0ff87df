"""Cards through the core's outbox to the fake DingTalk: a custom robot's 20-a-minute limit kept
by the outbox's shared send budget on a fake clock (a storm becomes a digest, nothing is lost),
DingTalk's 10-minute block honoured as Retry-After, link buttons on custom robots, and a route
to a person as an interactive card in their chat with the robot. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from dingtalk_support import ALICE, GROUP, card_refs
from fake_dingtalk import FakeDingTalkApi
from sqlalchemy import select

from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.store.tables import outbox
from tests.support import firing

ROBOT = "dingtalk-robot:ops"


async def rows(tocsin: Tocsin) -> list[tuple[str, str, int]]:
    async with tocsin.services.db.connect() as conn:
        found = (await conn.execute(select(outbox).order_by(outbox.c.id))).all()
    return [(r.destination, r.status, r.attempts) for r in found]


async def test_a_storm_to_a_custom_robot_stays_within_20_a_minute(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(destinations=(ROBOT,))
    start = clock.now()
    alerts = [firing(f"Alert{n:02d}", severity="warning") for n in range(30)]
    await tocsin.ingest.ingest(alerts)
    for _ in range(240):  # four minutes, a pass a second
        await tocsin.engine.tick()
        clock.advance(timedelta(seconds=1))
    times = [(c.at - start).total_seconds() for c in dingtalk.robot_posts if c.at is not None]
    assert times, "nothing was sent"
    worst = max(sum(1 for x in times if s <= x < s + 60) for s in times)
    assert worst <= 20, f"{worst} messages in one minute"
    assert {status for _, status, _ in await rows(tocsin)} == {"sent"}
    texts = [c.body[c.body["msgtype"]]["text"] for c in dingtalk.robot_posts]
    digests = [text for text in texts if "Alert storm" in text]
    cards = {text.partition("\n")[0] for text in texts if text not in digests}
    assert digests, "the storm was folded into a digest"
    counted = int(digests[-1].split("Alert storm: ")[1].split(" ")[0])
    assert len(cards) + counted == 30, "every alert is shown or counted"


async def test_the_robots_ten_minute_block_is_honoured(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(destinations=(ROBOT,))
    dingtalk.fail("/robot/send", body={"errcode": 130101, "errmsg": "send too fast"})
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    assert await rows(tocsin) == [(ROBOT, "pending", 1)]
    clock.advance(timedelta(minutes=9, seconds=59))
    await tocsin.engine.tick()
    assert len(dingtalk.calls_to("/robot/send")) == 1, "nothing during the block"
    clock.advance(timedelta(seconds=2))
    await tocsin.engine.tick()
    assert len(dingtalk.robot_posts) == 1 and await rows(tocsin) == [(ROBOT, "sent", 1)]


async def test_a_custom_robot_card_has_signed_link_buttons(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi, clock: FakeClock
) -> None:
    tocsin = make_tocsin(destinations=(ROBOT,))
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    (post,) = dingtalk.robot_posts
    stamp = int(post.query["timestamp"])
    assert stamp == int(clock.now().timestamp() * 1000), "signed on Tocsin's clock"
    card = post.body["actionCard"]
    assert card["title"] == "[P0] HighErrorRate · orders"
    assert card["text"].startswith('### 🔴 <font color="#E53935">[P0]</font> HighErrorRate')
    assert card["btns"][0]["title"] == "Acknowledge"
    assert all(b["actionURL"].startswith("http://tocsin.test/a/") for b in card["btns"])
    assert await card_refs(tocsin) == [{"robot": "ops"}]


async def test_a_route_to_a_person_is_a_card_in_their_chat_with_the_robot(
    make_tocsin: Callable[..., Tocsin], dingtalk: FakeDingTalkApi
) -> None:
    tocsin = make_tocsin(destinations=(f"dingtalk:{GROUP}", "dingtalk:@alice"))
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    spaces = sorted(card.space for card in dingtalk.cards.values())
    assert spaces == [f"dtv1.card//IM_GROUP.{GROUP}", f"dtv1.card//IM_ROBOT.{ALICE}"]
    (direct,) = [
        c.body
        for c in dingtalk.calls_to("/v1.0/card/instances/createAndDeliver")
        if "IM_ROBOT" in c.body["openSpaceId"]
    ]
    assert direct["imRobotOpenDeliverModel"]["spaceType"] == "IM_ROBOT"
    assert len(await card_refs(tocsin)) == 2
    assert direct["cardData"]["cardParamMap"]["tier"] == "P0"
