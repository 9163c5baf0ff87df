"""`ConsolePlatform` and `ConsoleHub` against a real SQLite database: rows and events."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from console_support import incident_card
from sqlalchemy import select

from adapters.chat.console import ConsoleHub, ConsolePlatform
from adapters.chat.console.hub import TOO_SLOW
from bot.clock import FakeClock
from bot.errors import PermanentDelivery
from bot.model import Destination, Tier
from bot.ports import ChatPlatform, PostedRef
from bot.store.db import Database
from bot.store.tables import console_messages

OPS = Destination("console", "ops")


@pytest.fixture
def hub() -> ConsoleHub:
    return ConsoleHub()


@pytest.fixture
def platform(db: Database, clock: FakeClock, hub: ConsoleHub) -> ConsolePlatform:
    return ConsolePlatform(db, clock, hub, chats=("ops", "payments"))


async def rows(db: Database) -> list[dict[str, object]]:
    async with db.connect() as conn:
        result = await conn.execute(select(console_messages).order_by(console_messages.c.id))
        return [dict(row) for row in result.mappings()]


def test_declares_its_capabilities(platform: ConsolePlatform) -> None:
    port: ChatPlatform = platform
    assert port.name == "console"
    caps = port.capabilities
    assert (caps.buttons, caps.update_in_place, caps.direct_messages) == (True, True, True)
    assert (caps.rate_per_second, caps.burst) == (50, 100)


async def test_post_card_stores_the_card_and_tells_the_chat(
    platform: ConsolePlatform, hub: ConsoleHub, db: Database, clock: FakeClock
) -> None:
    in_ops = hub.connect("ops", "alice")
    in_payments = hub.connect("payments", "alice")
    card = incident_card()

    ref = await platform.post_card(OPS, card, lang="en")

    [row] = await rows(db)
    assert ref == PostedRef({"message_id": row["id"]})
    assert row["chat"] == "ops"
    assert row["kind"] == "card"
    assert row["author"] == "Tocsin"
    assert row["card"] == card.to_json()
    assert row["private_to"] is None
    assert row["created_at"] == row["updated_at"] == clock.now()
    [event] = in_ops.drain()
    assert event["type"] == "message"
    assert event["message"]["id"] == row["id"]
    assert event["message"]["card"]["tier"] == "P0"
    assert in_payments.drain() == []


async def test_update_card_rewrites_the_row_and_sends_an_update_with_the_same_id(
    platform: ConsolePlatform, hub: ConsoleHub, db: Database, clock: FakeClock
) -> None:
    ref = await platform.post_card(OPS, incident_card(), lang="en")
    session = hub.connect("ops", "bob")
    clock.advance(timedelta(minutes=3))
    acked = dataclasses.replace(incident_card(), status="Acknowledged by Bob", buttons=())

    assert await platform.update_card(OPS, ref, acked, lang="en") == ref

    [row] = await rows(db)
    assert row["card"] == acked.to_json()
    assert row["updated_at"] == clock.now()
    assert row["created_at"] == clock.now() - timedelta(minutes=3)
    [event] = session.drain()
    assert event["type"] == "update"
    assert event["message"]["id"] == ref.data["message_id"]
    assert event["message"]["card"]["status"] == "Acknowledged by Bob"


async def test_update_card_refuses_what_it_cannot_find(platform: ConsolePlatform) -> None:
    card = incident_card()
    ref = await platform.post_card(OPS, card, lang="en")
    with pytest.raises(PermanentDelivery):
        await platform.update_card(OPS, PostedRef({"message_id": 999}), card, lang="en")
    with pytest.raises(PermanentDelivery):
        await platform.update_card(Destination("console", "payments"), ref, card, lang="en")
    with pytest.raises(PermanentDelivery):
        await platform.update_card(OPS, PostedRef({}), card, lang="en")


async def test_post_text_can_reply_to_a_message(platform: ConsolePlatform, db: Database) -> None:
    ref = await platform.post_card(OPS, incident_card(), lang="en")
    await platform.post_text(OPS, "Rolling back orders…", reply_to=ref)
    await platform.post_text(OPS, "回滚完成", reply_to=None)

    _, reply, plain = await rows(db)
    assert (reply["kind"], reply["text"], reply["reply_to"]) == (
        "text",
        "Rolling back orders…",
        ref.data["message_id"],
    )
    assert (plain["text"], plain["reply_to"]) == ("回滚完成", None)


@pytest.mark.parametrize(
    "dest",
    [Destination("console", "nope"), Destination("slack", "ops"), Destination("console", "@")],
)
async def test_unknown_chats_are_permanent_failures(
    platform: ConsolePlatform, db: Database, dest: Destination
) -> None:
    with pytest.raises(PermanentDelivery):
        await platform.post_card(dest, incident_card(), lang="en")
    with pytest.raises(PermanentDelivery):
        await platform.post_text(dest, "hello", reply_to=None)
    assert await rows(db) == []


async def test_direct_messages_go_to_the_users_private_chat_only(
    platform: ConsolePlatform, hub: ConsoleHub, db: Database
) -> None:
    alice = hub.connect("@alice", "alice")
    intruder = hub.connect("@alice", "bob")

    await platform.post_card(Destination("console", "@alice"), incident_card(), lang="en")

    [row] = await rows(db)
    assert (row["chat"], row["private_to"]) == ("@alice", "alice")
    assert [e["message"]["id"] for e in alice.drain()] == [row["id"]]
    assert intruder.drain() == []
    assert await platform.history("@alice", {"bob"}) == []
    assert [m.id for m in await platform.history("@alice", {"alice"})] == [row["id"]]


async def test_private_replies_reach_only_their_user(
    platform: ConsolePlatform, hub: ConsoleHub, db: Database
) -> None:
    alice = hub.connect("ops", "alice")
    bob = hub.connect("ops", "bob", aliases=("U-bob",))

    message = await platform.post_private("ops", "U-bob", "only for Bob")

    [row] = await rows(db)
    assert (row["private_to"], row["text"]) == ("U-bob", "only for Bob")
    assert alice.drain() == []
    [event] = bob.drain()
    assert event["message"]["private"] is True
    assert [m.id for m in await platform.history("ops", {"bob", "U-bob"})] == [message.id]
    assert await platform.history("ops", {"alice"}) == []
    with pytest.raises(PermanentDelivery):
        await platform.post_private("nope", "alice", "hi")


async def test_history_is_the_last_messages_oldest_first(platform: ConsolePlatform) -> None:
    for number in range(205):
        await platform.post_text(OPS, f"message {number}", reply_to=None)

    history = await platform.history("ops", set(), limit=200)

    assert [m.text for m in history] == [f"message {n}" for n in range(5, 205)]


async def test_a_tab_that_falls_behind_is_dropped() -> None:
    hub = ConsoleHub(max_pending=2)
    session = hub.connect("ops", "alice")
    for number in range(3):
        hub.broadcast("ops", {"type": "message", "n": number})

    assert session.closed
    assert session.close_code == TOO_SLOW
    assert hub.sessions("ops") == []
    assert await session.next_event() is None


async def test_a_card_keeps_its_tier_through_the_round_trip(
    platform: ConsolePlatform,
) -> None:
    await platform.post_card(OPS, incident_card(tier=Tier.P3), lang="en")
    [message] = await platform.history("ops", set())
    assert message.card is not None
    assert message.card["tier"] == "P3"
    assert message.to_json()["card"] == incident_card(tier=Tier.P3).to_json()
