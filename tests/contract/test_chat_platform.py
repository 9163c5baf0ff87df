"""The chat-platform contract, run against the in-memory fake and every real adapter here.

A platform shows a posted card, replaces it in place when updated through the reference it
returned, threads replies, and says `PermanentDelivery` for a destination that cannot exist.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.chat.console.hub import ConsoleHub
from adapters.chat.console.messages import MessageStore
from adapters.chat.console.platform import ConsolePlatform
from bot.clock import FakeClock
from bot.errors import PermanentDelivery
from bot.model import ActionKind, Button, Card, Destination, Field, Tier
from bot.ports import ChatPlatform
from bot.statuses import badge
from bot.store.db import Database
from tests.support import RecordingPlatform, migrated


@dataclass
class Subject:
    platform: ChatPlatform
    dest: Destination
    cards: Callable[[], Awaitable[list[Card]]]
    """The cards the chat shows now, oldest first."""
    texts: Callable[[], Awaitable[list[str]]]
    bad_dest: Destination


def card(status: str) -> Card:
    """A card as the core makes it: with the badge of its status."""
    return Card(
        ref="incident:7",
        title="HighErrorRate · orders",
        tier=Tier.P0,
        status=status,
        badge=badge(status, "en"),
        fields=(Field("Service", "orders"),),
        body="5xx over 5 %",
        buttons=(Button("Acknowledge", ActionKind.ACK),),
    )


@pytest.fixture(params=["fake", "console"])
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    if request.param == "fake":
        fake = RecordingPlatform(chats={"ops"})

        async def fake_cards() -> list[Card]:
            return [fake.cards[n] for n in sorted(fake.cards)]

        async def fake_texts() -> list[str]:
            return [s.text for s in fake.ops("text")]

        yield Subject(
            fake, Destination("fake", "ops"), fake_cards, fake_texts, Destination("fake", "nowhere")
        )
        return
    async with migrated(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}") as db:
        yield _console(db)


def _console(db: Database) -> Subject:
    platform = ConsolePlatform(db, FakeClock(), ConsoleHub(), chats=("ops",))
    store = MessageStore(db)

    async def cards() -> list[Card]:
        shown = await store.recent("ops", viewer=())
        return [Card.from_json(m.card) for m in shown if m.card is not None]

    async def texts() -> list[str]:
        return [m.text for m in await store.recent("ops", viewer=()) if m.kind == "text"]

    return Subject(
        platform, Destination("console", "ops"), cards, texts, Destination("console", "nowhere")
    )


async def test_posted_card_is_shown(subject: Subject) -> None:
    await subject.platform.post_card(subject.dest, card("triggered"), lang="en")
    assert [c.status for c in await subject.cards()] == ["triggered"]


async def test_update_replaces_the_card_in_place(subject: Subject) -> None:
    ref = await subject.platform.post_card(subject.dest, card("triggered"), lang="en")
    await subject.platform.update_card(subject.dest, ref, card("acknowledged"), lang="en")
    shown = await subject.cards()
    assert [c.status for c in shown] == ["acknowledged"]
    assert shown[0] == card("acknowledged")


async def test_texts_are_shown_and_may_reply_to_a_card(subject: Subject) -> None:
    ref = await subject.platform.post_card(subject.dest, card("triggered"), lang="en")
    await subject.platform.post_text(subject.dest, "Alice acknowledged #7", reply_to=ref)
    await subject.platform.post_text(subject.dest, "plain", reply_to=None)
    assert await subject.texts() == ["Alice acknowledged #7", "plain"]


async def test_impossible_destination_is_permanent(subject: Subject) -> None:
    with pytest.raises(PermanentDelivery):
        await subject.platform.post_card(subject.bad_dest, card("triggered"), lang="en")
