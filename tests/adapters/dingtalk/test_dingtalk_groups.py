"""A DingTalk group following the rotation: the cards Tocsin posts there @-mention whoever is on
call now, natively (an interactive card's ``atUserIds``, a custom robot's ``at``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from dingtalk_support import ALICE, BOB, GROUP, config
from fake_dingtalk import FakeDingTalkApi

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.settings import parse_settings
from bot.store.db import Database
from tests.support import firing

CREATE = "/v1.0/card/instances/createAndDeliver"


def rotation(people: list[str], group: str) -> dict[str, Any]:
    return {
        "time_zone": "UTC",
        "rotations": [
            {"name": "daily", "participants": people, "shift": "daily", "start": "2026-01-05T00:00"}
        ],
        "chat_groups": {"dingtalk": group},
    }


def make(db: Database, clock: FakeClock, api: FakeDingTalkApi) -> Tocsin:
    raw = config(api, destinations=(f"dingtalk:{GROUP}", "dingtalk-robot:ops"))
    raw["schedules"] = {
        "primary": rotation(["alice", "bob"], GROUP),
        "secondary": rotation(["bob", "alice"], "dingtalk-robot:ops"),
    }
    return bootstrap(parse_settings(raw, env={}), clock=clock, database=db)


async def test_cards_in_the_group_mention_who_is_on_call_and_follow_the_hand_off(
    db: Database, clock: FakeClock, dingtalk: FakeDingTalkApi, make_tocsin: Callable[..., Tocsin]
) -> None:
    tocsin = make(db, clock, dingtalk)
    try:
        await tocsin.ingest.ingest([firing("DiskFull")])
        await tocsin.engine.tick()
        (card,) = dingtalk.calls_to(CREATE)
        assert card.body["imGroupOpenDeliverModel"]["atUserIds"] == {ALICE: ALICE}
        (robot,) = dingtalk.robot_posts
        assert robot.body["msgtype"] == "markdown"
        assert robot.body["at"] == {"atUserIds": [BOB], "isAtAll": False}
        assert f"@{BOB}" in robot.body["markdown"]["text"], "DingTalk shows @userId in the text"

        clock.advance(timedelta(days=1))
        await tocsin.ingest.ingest([firing("HighLatency")])
        await tocsin.engine.tick()
        later = dingtalk.calls_to(CREATE)[-1]
        assert later.body["imGroupOpenDeliverModel"]["atUserIds"] == {BOB: BOB}
        assert dingtalk.robot_posts[-1].body["at"]["atUserIds"] == [ALICE]
    finally:
        for adapter in tocsin.adapters:
            await adapter.aclose()
