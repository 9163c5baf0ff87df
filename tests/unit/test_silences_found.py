"""Silences found in Alertmanager (made with amtool or its UI) show on the cards of the incidents
whose firing alerts they all match, move when they are extended, and lift when they go; the
poll runs on one replica at a time and backs off while Alertmanager is down. Against a local
fake Alertmanager, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from adapters.alertmanager.api import AlertmanagerSilences, iso, parse_time
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.incidents.aggregate import Incident
from bot.ports.silences import SilenceMatcher, UpstreamSilence
from bot.settings import Settings
from bot.silences.found import FoundSilences, covering
from bot.store.db import Database
from bot.store.tables import am_silences, maintenance
from tests.adapters.alertmanager.fake_am import FakeAlertmanager, matcher
from tests.support import TOKEN, RecordingPlatform, firing, make_settings

POLL = timedelta(seconds=30)
HOUR = timedelta(hours=1)


def am_settings(url: str) -> Settings:
    return make_settings(
        sources=[
            {
                "name": "am",
                "kind": "alertmanager",
                "auth": {"bearer_token": TOKEN},
                "api": {"url": url, "poll_interval": "30s"},
            },
            {"name": "grafana", "kind": "grafana", "auth": {"bearer_token": TOKEN}},
        ]
    )


@pytest.fixture
async def am(clock: FakeClock) -> AsyncIterator[FakeAlertmanager]:
    fake = FakeAlertmanager(now=clock.now)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def app(db: Database, clock: FakeClock, am: FakeAlertmanager) -> Tocsin:
    chat = RecordingPlatform()
    return bootstrap(am_settings(am.url), clock=clock, platforms={"fake": chat}, database=db)


@pytest.fixture
async def apis(app: Tocsin, am: FakeAlertmanager) -> AsyncIterator[dict[str, Any]]:
    settings = app.services.settings
    api = settings.sources[0].api
    assert api is not None
    client = AlertmanagerSilences("am", api)
    yield {"am": client}
    await client.aclose()


@pytest.fixture
def found(app: Tocsin, apis: dict[str, Any]) -> FoundSilences:
    s = app.services
    return FoundSilences(s.settings, s.db, s.incidents, apis)


async def open_incident(app: Tocsin, *events: Any) -> Incident:
    await app.ingest.ingest(list(events) or [firing()])
    async with app.services.db.connect() as conn:
        [incident] = await app.services.incidents.list_open(conn)
    return incident


async def load(app: Tocsin, incident_id: int) -> Incident:
    async with app.services.db.connect() as conn:
        return await app.services.incidents.load(conn, incident_id)


async def rows(app: Tocsin) -> list[Any]:
    async with app.services.db.connect() as conn:
        return list(await conn.execute(select(am_silences).order_by(am_silences.c.id)))


def ms(moment: datetime) -> datetime:
    """`moment` as Alertmanager hands it back (milliseconds)."""
    return parse_time(iso(moment))


ORDERS = [matcher("alertname", "HighErrorRate"), matcher("service", "orders")]


async def test_a_silence_made_in_alertmanager_silences_the_incident_once(
    app: Tocsin, am: FakeAlertmanager, found: FoundSilences, clock: FakeClock
) -> None:
    incident = await open_incident(app)
    ends = clock.now() + 2 * HOUR
    silence_id = am.add(ORDERS, ends, created_by="bob", comment="db failover")

    await found.run(clock.now())

    [row] = await rows(app)
    assert (row.origin, row.state, row.silence_id) == ("alertmanager", "active", silence_id)
    assert (row.created_by, row.comment, row.incident_id) == ("bob", "db failover", incident.id)
    assert row.ends_at == ms(ends)
    assert (await load(app, incident.id)).silenced_until == ms(ends)

    clock.advance(POLL)
    await found.run(clock.now())
    assert len(await rows(app)) == 1


async def test_a_silence_must_match_every_firing_alert(
    app: Tocsin, am: FakeAlertmanager, found: FoundSilences, clock: FakeClock
) -> None:
    incident = await open_incident(app, firing(instance="i-1"), firing(instance="i-2"))
    am.add([*ORDERS, matcher("instance", "i-1")], clock.now() + HOUR)
    await found.run(clock.now())
    assert await rows(app) == []
    assert (await load(app, incident.id)).silenced_until is None

    clock.advance(POLL)
    am.add([matcher("instance", "i-[12]", regex=True)], clock.now() + HOUR)
    await found.run(clock.now())
    assert len(await rows(app)) == 1
    assert (await load(app, incident.id)).silenced_until == ms(clock.now() + HOUR)


def upstream(*matchers: SilenceMatcher, silence_id: str = "s1") -> UpstreamSilence:
    moment = datetime(2026, 1, 5, 3, 0).astimezone()
    return UpstreamSilence(silence_id, matchers, moment, moment, "bob", "", "active")


@pytest.mark.parametrize(
    ("matchers", "covers"),
    [
        ((SilenceMatcher("service", "orders"),), True),
        ((SilenceMatcher("service", "ord.*", is_regex=True),), True),
        ((SilenceMatcher("service", "ord", is_regex=True),), False),  # anchored
        ((SilenceMatcher("env", "staging", is_equal=False),), True),
        ((SilenceMatcher("env", "prod|live", is_regex=True, is_equal=False),), False),
        ((SilenceMatcher("service", "orders"), SilenceMatcher("team", "")), True),
    ],
)
def test_matchers_read_as_alertmanager_reads_them(
    matchers: tuple[SilenceMatcher, ...], covers: bool
) -> None:
    labels = [{"alertname": "HighErrorRate", "service": "orders", "env": "prod"}]
    assert bool(covering([upstream(*matchers)], labels)) is covers


def test_an_odd_silence_does_not_stop_the_others() -> None:
    odd = upstream(SilenceMatcher("service", "(?P<", is_regex=True), silence_id="odd")
    good = upstream(SilenceMatcher("service", "orders"), silence_id="good")
    assert [s.id for s in covering([odd, good], [{"service": "orders"}])] == ["good"]


async def test_tocsins_own_silences_are_not_found_again(
    app: Tocsin, am: FakeAlertmanager, found: FoundSilences, clock: FakeClock
) -> None:
    incident = await open_incident(app)
    ends = clock.now() + HOUR
    silence_id = am.add(ORDERS, ends, created_by="alice", comment="http://tocsin.test/i/1")
    await insert_tocsin_row(app, incident.id, silence_id, ends - timedelta(minutes=1))
    # made by Tocsin a moment ago, its id not recorded yet: its comment says whose it is
    am.add(ORDERS, ends, created_by="alice", comment="Tocsin #1 HighErrorRate · http://t")
    await found.run(clock.now())
    assert [r.origin for r in await rows(app)] == ["tocsin"]


async def insert_tocsin_row(app: Tocsin, incident_id: int, silence_id: str, at: datetime) -> None:
    async with app.services.db.begin() as conn:
        await conn.execute(
            am_silences.insert().values(
                incident_id=incident_id,
                source="am",
                origin="tocsin",
                scope="group",
                matchers=ORDERS,
                silence_id=silence_id,
                state="active",
                created_by="alice",
                comment="",
                starts_at=at,
                ends_at=at + HOUR,
                created_at=at,
                updated_at=at,
            )
        )


async def test_an_extended_silence_moves_the_incidents_silence(
    app: Tocsin, am: FakeAlertmanager, found: FoundSilences, clock: FakeClock
) -> None:
    incident = await open_incident(app)
    silence_id = am.add(ORDERS, clock.now() + HOUR)
    await found.run(clock.now())

    clock.advance(POLL)
    later = clock.now() + 3 * HOUR
    am.silences[silence_id].ends_at = later
    await found.run(clock.now())
    [row] = await rows(app)
    assert row.ends_at == ms(later)
    assert (await load(app, incident.id)).silenced_until == ms(later)


async def test_a_silence_expired_early_in_alertmanager_lifts_the_incidents_silence(
    app: Tocsin, am: FakeAlertmanager, found: FoundSilences, clock: FakeClock
) -> None:
    incident = await open_incident(app)
    silence_id = am.add(ORDERS, clock.now() + HOUR)
    await found.run(clock.now())
    assert (await load(app, incident.id)).silenced_until is not None

    clock.advance(timedelta(minutes=5))
    am.expire(silence_id)
    await found.run(clock.now())

    [row] = await rows(app)
    assert row.state == "expired"
    assert (await load(app, incident.id)).silenced_until is None


async def test_another_live_silence_keeps_holding_when_one_goes(
    app: Tocsin, am: FakeAlertmanager, found: FoundSilences, clock: FakeClock
) -> None:
    incident = await open_incident(app)
    first = am.add(ORDERS, clock.now() + 2 * HOUR)
    am.add([matcher("service", "orders")], clock.now() + HOUR, created_by="carol")
    await found.run(clock.now())
    assert (await load(app, incident.id)).silenced_until == ms(clock.now() + 2 * HOUR)

    clock.advance(timedelta(minutes=5))
    short_end = ms(clock.now() - timedelta(minutes=5) + HOUR)
    am.expire(first)
    await found.run(clock.now())
    assert (await load(app, incident.id)).silenced_until == short_end


async def test_tocsins_silence_expired_in_alertmanagers_ui_lifts_too(
    app: Tocsin, am: FakeAlertmanager, found: FoundSilences, clock: FakeClock
) -> None:
    incident = await open_incident(app)
    async with app.services.db.begin() as conn:
        locked = await app.services.incidents.load(conn, incident.id, lock=True)
        await app.services.incidents.silence(conn, locked, "alice", clock.now(), HOUR)
    silence_id = am.add(ORDERS, clock.now() + HOUR, created_by="alice")
    await insert_tocsin_row(app, incident.id, silence_id, clock.now())  # ends when it does

    clock.advance(timedelta(minutes=5))
    await found.run(clock.now())
    assert (await load(app, incident.id)).silenced_until is not None  # still there: nothing

    clock.advance(timedelta(minutes=5))
    am.expire(silence_id)
    await found.run(clock.now())
    [row] = await rows(app)
    assert (row.origin, row.state) == ("tocsin", "expired")
    assert (await load(app, incident.id)).silenced_until is None


async def test_polls_at_most_every_interval_and_on_one_replica(
    app: Tocsin, am: FakeAlertmanager, found: FoundSilences, clock: FakeClock, apis: Any
) -> None:
    s = app.services
    other = FoundSilences(s.settings, s.db, s.incidents, apis)
    await asyncio.gather(found.run(clock.now()), other.run(clock.now()))
    assert len(am.requests) == 1
    clock.advance(POLL / 2)
    await found.run(clock.now())
    await other.run(clock.now())
    assert len(am.requests) == 1
    clock.advance(POLL / 2)
    await other.run(clock.now())
    await found.run(clock.now())
    assert len(am.requests) == 2


async def test_an_outage_backs_off_up_to_ten_intervals_logged_once(
    app: Tocsin, am: FakeAlertmanager, found: FoundSilences, clock: FakeClock
) -> None:
    am.down = True
    polled_at: list[datetime] = []
    with capture_logs() as logs:
        for _ in range(200):  # bounded: 100 minutes in 30-second steps
            before = len(am.requests)
            await found.run(clock.now())
            if len(am.requests) > before:
                polled_at.append(clock.now())
            clock.advance(POLL)
    gaps = [(b - a) // POLL for a, b in itertools.pairwise(polled_at)]
    assert gaps[:5] == [2, 4, 8, 10, 10]
    assert set(gaps[3:]) == {10}
    unreadable = [e for e in logs if e["event"] == "alertmanager silences unreadable"]
    assert len(unreadable) == 1

    am.down = False
    clock.advance(10 * POLL)
    await found.run(clock.now())
    clock.advance(POLL)
    await found.run(clock.now())
    async with app.services.db.connect() as conn:
        due = (
            await conn.execute(
                select(maintenance.c.due_at).where(maintenance.c.name == "am-silences:am")
            )
        ).scalar_one()
    assert due == clock.now() + POLL


async def test_the_engine_puts_a_found_silence_on_the_card_and_takes_it_off(
    db: Database, clock: FakeClock, am: FakeAlertmanager
) -> None:
    chat = RecordingPlatform()
    settings = am_settings(am.url)
    app = bootstrap(settings, clock=clock, platforms={"fake": chat}, database=db)
    try:
        incident = await open_incident(app)
        await app.engine.tick()
        silence_id = am.add(ORDERS, clock.now() + HOUR, created_by="bob")
        clock.advance(POLL)
        await app.engine.tick()

        card = latest_card(chat)
        assert card.status == "silenced", card
        shown = " ".join(f"{f.label}: {f.value}" for f in card.fields)
        assert "Silenced in Alertmanager by bob" in shown, shown
        assert silence_id[:8] in shown, shown

        clock.advance(timedelta(minutes=5))
        am.expire(silence_id)
        await app.engine.tick()
        card = latest_card(chat)
        assert card.status != "silenced", card
        assert (await load(app, incident.id)).silenced_until is None
    finally:
        await app.stop()


def latest_card(chat: RecordingPlatform) -> Any:
    cards = [sent.card for sent in chat.sent if sent.card is not None]
    assert cards, chat.sent
    return cards[-1]


async def test_a_row_newer_than_the_read_is_not_taken_for_gone(
    app: Tocsin, am: FakeAlertmanager, found: FoundSilences, clock: FakeClock
) -> None:
    """Another replica made the silence after this one read the list: nothing lifts."""
    incident = await open_incident(app)
    async with app.services.db.begin() as conn:
        locked = await app.services.incidents.load(conn, incident.id, lock=True)
        await app.services.incidents.silence(conn, locked, "alice", clock.now(), HOUR)
    await insert_tocsin_row(app, incident.id, "6f1c5a0e-93a2-4c1e-8d59-0b2f6a3c9e11", clock.now())
    await found.run(clock.now())
    [row] = await rows(app)
    assert row.state == "active"
    assert (await load(app, incident.id)).silenced_until is not None
