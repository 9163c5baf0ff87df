"""How an acknowledgement came is kept on the incident (a chat's button, an action link in a
page), and the time from the episode's first page to it is measured by channel."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.incidents.actions import ack_channel
from bot.links import LinkSigner
from bot.model import ActionKind
from bot.store.db import Database
from tests.support import RecordingPlatform
from tests.unit.test_dispatch import incident, press
from tests.unit.test_escalation import fire, later, wire


@pytest.fixture
def app(db: Database, clock: FakeClock, chat: RecordingPlatform) -> Tocsin:
    return wire(db, clock, chat, MemoryNotifier("sms"))


@pytest.fixture
async def http(app: Tocsin) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        yield client


def waited(app: Tocsin, channel: str) -> tuple[float | None, float | None]:
    """How many acknowledgements the histogram saw on `channel`, and their seconds in all."""
    registry, labels = app.services.metrics.registry, {"channel": channel}
    return (
        registry.get_sample_value("tocsin_page_ack_seconds_count", labels),
        registry.get_sample_value("tocsin_page_ack_seconds_sum", labels),
    )


async def test_a_chat_button_acknowledges_via_its_platform(app: Tocsin, clock: FakeClock) -> None:
    number = await fire(app)
    await later(app, clock, seconds=90)
    assert (await press(app, "U-ALICE", ActionKind.ACK, f"incident:{number}")).ok
    row = await incident(app, number)
    assert (row.acked_by, row.acked_via) == ("Alice", "fake")
    assert waited(app, "chat") == (1, 90)
    assert waited(app, "sms") == (None, None)


async def test_the_link_in_an_sms_acknowledges_via_link_sms(
    app: Tocsin, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    number = await fire(app)
    await later(app, clock, minutes=2)
    settings = app.services.settings
    links = LinkSigner(settings.tocsin.secret_key, "", ttl=settings.paging.link_ttl)
    token = links.token(
        ActionKind.ACK, f"incident:{number}", "", "sms:@alice", "alice", clock.now()
    )
    done = await http.post(f"/a/{token}")
    assert done.status_code == 200 and "Alice acknowledged" in done.text
    assert (await incident(app, number)).acked_via == "link:sms"
    assert waited(app, "sms") == (1, 120)


async def test_a_chat_link_counts_as_that_chats_button(
    app: Tocsin, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    number = await fire(app)
    links = LinkSigner(app.services.settings.tocsin.secret_key, "")
    token = links.token(
        ActionKind.ACK, f"incident:{number}", "", "fake:@alice", "alice", clock.now()
    )
    assert (await http.post(f"/a/{token}")).status_code == 200
    assert (await incident(app, number)).acked_via == "fake"
    assert waited(app, "chat") == (1, 0)


async def test_an_episode_without_pages_is_not_measured(app: Tocsin, clock: FakeClock) -> None:
    number = await fire(app, service="payments")  # its route names no escalation policy
    await later(app, clock, minutes=1)
    assert (await press(app, "U-ALICE", ActionKind.ACK, f"incident:{number}")).ok
    assert (await incident(app, number)).acked_via == "fake"
    assert waited(app, "chat") == (None, None)


async def test_a_new_episode_measures_from_its_own_first_page(
    app: Tocsin, clock: FakeClock
) -> None:
    number = await fire(app)
    await press(app, "U-ALICE", ActionKind.ACK, f"incident:{number}")
    await later(app, clock, hours=1)  # the acknowledgement lapses: paged again
    await later(app, clock, seconds=45)
    assert (await press(app, "U-ALICE", ActionKind.ACK, f"incident:{number}")).ok
    assert waited(app, "chat") == (2, 45)


def test_how_an_acknowledgement_came_names_its_channel() -> None:
    assert [ack_channel(v) for v in ("sms_reply", "voice_key", "link:sms", "link:email")] == [
        "sms",
        "voice",
        "sms",
        "email",
    ]
    assert [ack_channel(v) for v in ("slack", "fake", "console", "")] == ["chat"] * 4
