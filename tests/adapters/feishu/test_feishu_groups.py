"""A Feishu chat whose members follow the rotation, through lark-oapi against the fake Feishu:
the on-call person is added, whom the sync added is removed at the hand-off, and someone who
joined the chat by themselves stays when their shift ends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fake_feishu import FakeOpenApi
from feishu_support import ALICE, BOB_UNION, CAROL, CHAT, config

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.settings import parse_settings
from bot.store.db import Database

MEMBERS = "/open-apis/im/v1/chats/:chat_id/members"


def make(db: Database, clock: FakeClock, api: FakeOpenApi, people: list[str]) -> Tocsin:
    raw: dict[str, Any] = config(api, mode="webhook")
    raw["schedules"] = {
        "primary": {
            "time_zone": "UTC",
            "rotations": [
                {
                    "name": "daily",
                    "participants": people,
                    "shift": "daily",
                    "start": "2026-01-05T00:00",
                }
            ],
            "chat_groups": {"feishu": CHAT},
        }
    }
    tocsin = bootstrap(parse_settings(raw, env={}), clock=clock, database=db)
    return tocsin


async def test_the_chat_gets_the_on_call_person_and_loses_only_whom_it_added(
    db: Database, clock: FakeClock, open_api: FakeOpenApi
) -> None:
    open_api.members[CHAT] = {CAROL}  # Carol is in the chat already, by herself
    tocsin = make(db, clock, open_api, ["alice", "bob", "carol"])
    await tocsin.engine.tick()  # 2026-01-05: Alice
    assert open_api.members[CHAT] == {CAROL, ALICE}
    (add,) = open_api.calls_to(f"POST {MEMBERS}")
    assert add.token == open_api.tenant_token
    assert add.query["member_id_type"] == "open_id" and add.body == {"id_list": [ALICE]}

    clock.advance(timedelta(days=1))  # Bob, known by his union_id
    await tocsin.engine.tick()
    assert open_api.members[CHAT] == {CAROL, BOB_UNION}
    removed = open_api.calls_to(f"DELETE {MEMBERS}")
    assert [(c.query["member_id_type"], c.body["id_list"]) for c in removed] == [
        ("open_id", [ALICE])
    ]

    clock.advance(timedelta(days=1))  # Carol, who was there already: nothing to add
    await tocsin.engine.tick()
    assert open_api.members[CHAT] == {CAROL}
    clock.advance(timedelta(days=1))  # Alice again: Carol stays, she joined by herself
    await tocsin.engine.tick()
    assert open_api.members[CHAT] == {CAROL, ALICE}
    assert [c.body["id_list"] for c in open_api.calls_to(f"DELETE {MEMBERS}")] == [
        [ALICE],
        [BOB_UNION],
    ]


async def test_a_chat_the_bot_is_not_in_is_retried_until_it_is(
    db: Database, clock: FakeClock, open_api: FakeOpenApi
) -> None:
    open_api.chats.discard(CHAT)
    tocsin = make(db, clock, open_api, ["alice"])
    await tocsin.engine.tick()
    assert open_api.members[CHAT] == set()
    open_api.chats.add(CHAT)  # someone adds the bot to the chat
    clock.advance(timedelta(seconds=30))
    await tocsin.engine.tick()
    assert open_api.members[CHAT] == {ALICE}
