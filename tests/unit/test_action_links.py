"""Signed action links through the real route: used up only by an action that happened."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.links import LEASE, LinkSigner
from bot.model import (
    ActionKind,
    Badge,
    Button,
    Card,
    Destination,
    Field,
    Link,
    Section,
    Tier,
    Tone,
)
from bot.store.db import Database
from bot.store.tables import audit_log, used_links
from bot.web.actions import ActionLinks
from tests.support import RecordingPlatform, make_settings
from tests.unit.test_dispatch import incident
from tests.unit.test_web import fire, link_for

TOKENS = {"alice": "alice-token-123", "bob": "bob-token-456", "carol": "carol-token-789"}


@pytest.fixture
async def app(db: Database, clock: FakeClock) -> Tocsin:
    settings = make_settings(console={"enabled": False, "tokens": TOKENS})
    return bootstrap(settings, clock=clock, database=db, platforms={"fake": RecordingPlatform()})


@pytest.fixture
async def http(app: Tocsin) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        yield client


def as_(user: str) -> dict[str, str]:
    return {"token": TOKENS[user]}


async def acks(app: Tocsin) -> list[tuple[str, str]]:
    async with app.services.db.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.actor, audit_log.c.outcome)
            .where(audit_log.c.action.in_(("button:ack", "action")))
            .order_by(audit_log.c.id)
        )
        return [(r.actor, r.outcome) for r in rows]


async def test_a_refusal_leaves_a_group_link_for_the_right_person(
    app: Tocsin, http: httpx.AsyncClient
) -> None:
    number = await fire(http)
    url = await link_for(app, number, "ops")
    refused = await http.post(url, data=as_("carol"))
    assert refused.status_code == 403 and "may not" in refused.text
    stranger = await http.post(url, data={"token": "nobody"})
    assert stranger.status_code == 401
    assert (await incident(app, number)).status == "triggered"
    done = await http.post(url, data=as_("alice"))
    assert done.status_code == 200 and "Alice acknowledged" in done.text
    assert (await incident(app, number)).status == "acknowledged"
    assert await acks(app) == [("carol", "denied"), ("alice", "allowed")]


async def test_a_used_link_says_so_and_does_nothing_more(
    app: Tocsin, http: httpx.AsyncClient
) -> None:
    number = await fire(http)
    url = await link_for(app, number, "ops")
    assert (await http.post(url, data=as_("alice"))).status_code == 200
    again = await http.post(url, data=as_("alice"))
    assert again.status_code == 409 and "already used by alice" in again.text
    other = await http.post(url, data=as_("bob"))
    assert other.status_code == 409
    assert await acks(app) == [("alice", "allowed")]


async def test_an_expired_link_is_refused_even_unused(
    app: Tocsin, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    number = await fire(http)
    url = await link_for(app, number, "ops")
    assert (await http.post(url, data=as_("carol"))).status_code == 403
    clock.advance(timedelta(hours=24, seconds=1))
    expired = await http.post(url, data=as_("alice"))
    assert expired.status_code == 403 and "expired" in expired.text
    assert (await incident(app, number)).status == "triggered"


async def test_two_people_opening_a_link_at_once_act_once(
    app: Tocsin, http: httpx.AsyncClient
) -> None:
    number = await fire(http)
    url = await link_for(app, number, "ops")
    first, second = await asyncio.gather(
        http.post(url, data=as_("alice")), http.post(url, data=as_("bob"))
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    assert len(await acks(app)) == 1
    row = await incident(app, number)
    assert row.status == "acknowledged" and row.acked_by in ("Alice", "Bob")


async def test_a_direct_link_refused_then_reissued_is_not_stuck(
    app: Tocsin, http: httpx.AsyncClient
) -> None:
    number = await fire(http)
    url = await link_for(app, number, "@carol")
    for _ in range(2):  # each refusal is answered the same way, never "already used"
        refused = await http.post(url)
        assert refused.status_code == 403 and "may not" in refused.text
    assert await acks(app) == [("carol", "denied"), ("carol", "denied")]


async def test_a_hold_left_by_a_stopped_request_lapses(
    app: Tocsin, http: httpx.AsyncClient, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = await fire(http)
    url = await link_for(app, number, "ops")
    nonce = (
        LinkSigner(app.services.settings.tocsin.secret_key, app.services.settings.tocsin.public_url)
        .verify(url.removeprefix("/a/"), clock.now())
        .nonce
    )
    async with app.services.db.begin() as conn:  # a process stopped while holding the link
        await conn.execute(
            used_links.insert().values(nonce=nonce, used_by="?x", used_at=clock.now())
        )
    monkeypatch.setattr(ActionLinks, "wait", 0.2)
    busy = await http.post(url, data=as_("alice"))
    assert busy.status_code == 409 and "right now" in busy.text
    clock.advance(LEASE + timedelta(seconds=1))
    done = await http.post(url, data=as_("alice"))
    assert done.status_code == 200 and "Alice acknowledged" in done.text


async def test_wrong_tokens_on_a_group_link_are_throttled_and_audited(
    app: Tocsin, http: httpx.AsyncClient
) -> None:
    """A group link signs its opener in with a console token: guessing is throttled as on the
    console itself (the same keys), audited and counted."""
    number = await fire(http)
    url = await link_for(app, number, "ops")
    answers = [(await http.post(url, data={"token": f"guess-{n}"})) for n in range(20)]
    assert [a.status_code for a in answers[:6]] == [401] * 6
    assert {a.status_code for a in answers[6:]} == {429}
    assert int(answers[-1].headers["Retry-After"]) > 0
    right = await http.post(url, data=as_("alice"))  # from the blocked address: not even read
    assert right.status_code == 429
    assert (await incident(app, number)).status == "triggered"
    async with app.services.db.connect() as conn:
        denied = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.outcome).where(
                    audit_log.c.action == "action_link:sign-in"
                )
            )
        ).all()
    assert len(denied) == 6 and {d.outcome for d in denied} == {"denied"}
    failures = app.services.metrics.auth_failures
    assert failures.labels(surface="action_link", reason="bad_token")._value.get() == 6
    assert failures.labels(surface="action_link", reason="throttled")._value.get() == 15


def test_a_card_given_links_keeps_everything_but_its_buttons_callbacks() -> None:
    card = Card(
        ref="incident:7",
        title="Checkout errors",
        tier=Tier.P1,
        status="triggered",
        fields=(Field("Service", "orders"),),
        body="5% errors",
        buttons=(Button("Ack", ActionKind.ACK),),
        footer="#7",
        badge=Badge("Triggered", Tone.ALERT),
        links=(Link("Grafana", "https://grafana.example/d/1"),),
        sections=(Section("Similar", ("#3",)),),
        mentions=("U1",),
    )
    signer = LinkSigner("s" * 32, "https://tocsin.example")
    linked = signer.with_links(
        card, Destination("dingtalk", "cid1"), datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert linked.buttons[0].url is not None and linked.buttons[0].url.startswith(
        "https://tocsin.example/a/"
    )
    assert replace(linked, buttons=card.buttons) == card
