"""The follower relays messages written by another process to this process's browsers."""

from __future__ import annotations

from adapters.chat.console.follow import ConsoleFollower
from adapters.chat.console.hub import ConsoleHub
from adapters.chat.console.platform import ConsolePlatform
from bot.clock import FakeClock
from bot.model import Card, Destination, Tier
from bot.store.db import Database

OPS = Destination("console", "ops")


def card(status: str) -> Card:
    return Card(ref="incident:1", title="HighErrorRate", tier=Tier.P0, status=status)


async def test_changes_from_another_process_reach_connected_browsers(db: Database) -> None:
    clock = FakeClock()
    here, there = ConsoleHub(), ConsoleHub()  # two processes, one database
    other = ConsolePlatform(db, clock, there)
    follower = ConsoleFollower(db, here, clock)
    alice = here.connect("ops", "alice")
    bob_dm = here.connect("@bob", "bob")
    assert await follower.poll_once() == 0  # first poll only finds where the table ends

    ref = await other.post_card(OPS, card("triggered"), lang="en")
    clock.advance(1)
    assert await follower.poll_once() == 1
    [event] = alice.drain()
    assert event["type"] == "message" and event["message"]["card"]["status"] == "triggered"

    clock.advance(1)
    await other.update_card(OPS, ref, card("acknowledged"), lang="en")
    clock.advance(1)
    assert await follower.poll_once() == 1
    [update] = alice.drain()
    assert update["message"]["id"] == event["message"]["id"]
    assert update["message"]["card"]["status"] == "acknowledged"

    assert await follower.poll_once() == 0  # nothing new: nothing sent twice
    assert alice.drain() == [] and bob_dm.drain() == []
