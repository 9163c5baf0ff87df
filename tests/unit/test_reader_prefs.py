"""Who reads a message decides its language and time zone: `/tz` and `/lang` per person or
chat, stored for every replica; direct chats (pages included) in the person's, group chats in
the chat's; a change shows from the next delivery pass on."""

from __future__ import annotations

from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.prefs import (
    Choice,
    Reader,
    chat_scope,
    direct_user,
    get_choice,
    reader_of,
    set_language,
    set_timezone,
    user_scope,
)
from bot.store.db import Database
from tests.support import RecordingPlatform
from tests.unit.readers import english_words, visible_text
from tests.unit.test_dispatch import open_incident, say
from tests.unit.test_escalation import fire, wire

DEFAULT = Reader("en", "UTC")


async def test_a_time_zone_is_stored_beside_the_language(db: Database) -> None:
    async with db.begin() as conn:
        await set_timezone(db, conn, user_scope("bob"), "Asia/Shanghai")
    async with db.begin() as conn:
        assert await get_choice(conn, user_scope("bob")) == Choice(None, "Asia/Shanghai")
        await set_language(db, conn, user_scope("bob"), "zh")
        await set_timezone(db, conn, user_scope("bob"), "Europe/Berlin")
    async with db.connect() as conn:
        assert await get_choice(conn, user_scope("bob")) == Choice("zh", "Europe/Berlin")
        assert await get_choice(conn, user_scope("nobody")) == Choice()


async def test_a_direct_chat_is_read_by_its_person_a_group_by_the_chat(db: Database) -> None:
    assert direct_user("slack:@bob") == "bob" and direct_user("slack:C024") is None
    async with db.begin() as conn:
        await set_timezone(db, conn, chat_scope("fake:ops"), "Asia/Shanghai")
        await set_language(db, conn, chat_scope("fake:ops"), "zh")
        await set_timezone(db, conn, user_scope("alice"), "Europe/Berlin")
    async with db.connect() as conn:
        group = await reader_of(conn, "fake:ops", {"alice": "en"}, DEFAULT)
        alice = await reader_of(conn, "fake:@alice", {"alice": "en"}, DEFAULT)
        bob = await reader_of(conn, "fake:@bob", {"bob": "zh"}, DEFAULT)
    assert group == Reader("zh", "Asia/Shanghai")
    assert alice == Reader("en", "Europe/Berlin")
    assert bob == Reader("zh", "UTC")


async def test_tz_command_sets_the_zone_cards_and_whoami_use(
    tocsin: Tocsin, chat: RecordingPlatform
) -> None:
    refused = await say(tocsin, "U-ALICE", "/tz Mars/Olympus")
    assert not refused.ok and "is not a time zone" in refused.text
    done = await say(tocsin, "U-ALICE", "/tz Asia/Shanghai")
    assert done.private and "Asia/Shanghai" in done.text
    assert "Time zone: Asia/Shanghai" in (await say(tocsin, "U-ALICE", "/whoami")).text
    assert not (await say(tocsin, "U-CAROL", "/tz UTC --chat")).ok, "a chat's is an admin's"
    assert (await say(tocsin, "U-ALICE", "/tz Asia/Shanghai --chat")).ok
    number = await open_incident(tocsin)
    (card,) = [s.card for s in chat.ops("post", "fake:ops") if s.card]
    assert card.ref == f"incident:{number}"
    started = next(f.value for f in card.fields if f.label == "Started")
    assert started.startswith("10:55 CST"), "the alert started 02:55 UTC"


async def test_a_page_card_is_in_the_persons_language_and_zone(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    policy = {"steps": [{"targets": ["user:alice", "user:bob"], "delay": "5m"}]}
    app = wire(db, clock, chat, MemoryNotifier("sms"), escalation_policies={"primary": policy})
    await say(app, "U-ALICE", "/tz Europe/Berlin")
    await fire(app)
    await app.engine.tick()
    (bob,) = [s.card for s in chat.ops("post", "fake:@bob") if s.card]  # configured: zh
    (alice,) = [s.card for s in chat.ops("post", "fake:@alice") if s.card]
    (group,) = [s.card for s in chat.ops("post", "fake:ops") if s.card]
    assert bob.badge is not None and bob.badge.word == "告警中"
    started = [f.value for f in bob.fields if f.label == "开始时间"]
    assert started == ["02:55（世界标准时间） · 5 分钟前"]
    names = ["HighErrorRate", "orders", "prod", "ops", "UTC", "Alice", "Bob"]  # Bob: paged
    assert english_words(visible_text(bob).replace(bob.body, ""), names) == []
    assert alice.badge is not None and alice.badge.word == "Triggered"
    assert [f.value for f in alice.fields if f.label == "Started"] == ["03:55 CET · 5 min ago"]
    assert group.badge is not None and group.badge.word == "Triggered"


async def test_a_language_change_on_another_replica_shows_from_the_next_pass(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    policy = {"steps": [{"targets": ["user:alice"], "delay": "5m"}]}
    app = wire(db, clock, chat, MemoryNotifier("sms"), escalation_policies={"primary": policy})
    other = wire(db, clock, chat, MemoryNotifier("sms"), escalation_policies={"primary": policy})
    number = await fire(app)
    await app.engine.tick()
    (first,) = [s.card for s in chat.ops("post", "fake:@alice") if s.card]
    assert first.badge is not None and first.badge.word == "Triggered"
    await say(other, "U-ALICE", "/lang zh")  # through the other replica
    await say(other, "U-ALICE", f"/ack {number}")
    await app.engine.tick()  # this replica delivers the update
    updated = [s.card for s in chat.ops("update", "fake:@alice") if s.card]
    assert updated and updated[-1].badge is not None and updated[-1].badge.word == "已认领"
