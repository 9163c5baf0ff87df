"""A WeCom group following the rotation: the cards its robot posts @-mention whoever is on call
now (``<@userid>`` in markdown, also where the robot would send a template card, which cannot
mention), and the mention moves with the hand-off; a card's later reposts mention nobody."""

from __future__ import annotations

from datetime import timedelta

from fake_wecom import FakeWeCom
from wecom_support import config

from bot.bootstrap import bootstrap
from bot.clock import FakeClock
from bot.settings import parse_settings
from bot.store.db import Database
from tests.support import firing, resolved


async def test_robot_cards_mention_the_on_call_person_and_follow_the_hand_off(
    db: Database, clock: FakeClock, wecom_api: FakeWeCom
) -> None:
    raw = config(wecom_api, destinations=["wecom-robot:ops"])
    raw["wecom"]["robots"]["ops"]["format"] = "text_notice"
    raw["schedules"] = {
        "primary": {
            "time_zone": "UTC",
            "rotations": [
                {
                    "name": "daily",
                    "participants": ["alice", "bob"],
                    "shift": "daily",
                    "start": "2026-01-05T00:00",
                }
            ],
            "chat_groups": {"wecom": "ops"},
        }
    }
    tocsin = bootstrap(parse_settings(raw, env={}), clock=clock, database=db)
    try:
        await tocsin.ingest.ingest([firing("DiskFull")])
        await tocsin.engine.tick()
        (first,) = wecom_api.robot("ops")
        assert first["msgtype"] == "markdown"
        assert first["markdown"]["content"].endswith("\n<@alice>")
        assert "DiskFull" in first["markdown"]["content"]

        clock.advance(timedelta(days=1))
        await tocsin.ingest.ingest([firing("HighLatency")])
        await tocsin.engine.tick()
        newest = wecom_api.robot("ops")[-1]["markdown"]["content"]
        assert "HighLatency" in newest and newest.endswith("\n<@bob>")

        sent = len(wecom_api.robot("ops"))
        await tocsin.ingest.ingest([resolved("DiskFull")])
        await tocsin.engine.tick()
        reposts = [m["markdown"]["content"] for m in wecom_api.robot("ops")[sent:]]
        assert reposts and all("DiskFull" in m and "<@" not in m for m in reposts)
    finally:
        for adapter in tocsin.adapters:
            await adapter.aclose()
