"""Each SMS page is sent once, however slow the provider: two replicas (two `PageSender`s, each
with its own database engine) take pages one at a time, fence every write with the lease they
hold, and keep that lease alive while a send runs. A replica that dies mid-send leaves a lease
that runs out, and the other replica sends that page once more."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.clock import Clock, FakeClock, SystemClock
from bot.escalation.pager import PageSender
from bot.incidents.status import Status
from bot.links import LinkSigner
from bot.metrics import Metrics
from bot.paging.chains import chains
from bot.ports import Notifier, Page, Receipt
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import incidents, pages
from tests.support import make_settings, migrated, postgres_database
from tests.unit.test_escalation import PHONES, paging_config

SETTINGS = make_settings(
    **paging_config(paging={"rate_limits": {"sms": [{"count": 100000, "per": "1m"}]}})
)


class SlowSms:
    """An SMS provider that takes `delay` seconds to answer and then counts the message as
    delivered in `delivered`, shared by every replica. With `hang`, it takes the message (it
    is delivered) and never answers; `task` is then the sending task, for the test to kill."""

    channel = "sms"

    def __init__(self, name: str, delivered: Counter[str], delay: float, hang: bool = False):
        self.provider = name
        self.delivered, self.delay, self.hang = delivered, delay, hang
        self.started = asyncio.Event()
        self.task: asyncio.Task[Any] | None = None
        self.release = asyncio.Event()

    async def send(self, page: Page) -> Receipt:
        self.task = asyncio.current_task()
        self.started.set()
        if self.hang:
            self.delivered[page.key] += 1
            await self.release.wait()
            return Receipt(self.provider, f"{self.provider}:{page.key}")
        await asyncio.sleep(self.delay)
        self.delivered[page.key] += 1
        return Receipt(self.provider, f"{self.provider}:{page.key}")

    async def aclose(self) -> None:
        pass


def sender(
    db: Database,
    clock: Clock,
    sms: Notifier,
    lease: timedelta,
    settings: Settings = SETTINGS,
    **options: Any,
) -> PageSender:
    signer = LinkSigner(settings.tocsin.secret_key, settings.tocsin.public_url)
    return PageSender(
        settings, db, clock, chains({"sms": sms}), signer, Metrics(), lease=lease, **options
    )


async def add_pages(db: Database, clock: Clock, count: int) -> None:
    """One triggered incident and `count` due SMS pages for it."""
    now = clock.now()
    async with db.begin() as conn:
        incident_id = (
            await conn.execute(
                insert(incidents)
                .values(
                    group_key="g",
                    route="ops",
                    tier="P0",
                    title="HighErrorRate on orders/prod",
                    labels={},
                    status=Status.TRIGGERED,
                    destinations=[],
                    created_at=now,
                    updated_at=now,
                )
                .returning(incidents.c.id)
            )
        ).scalar_one()
        await conn.execute(
            insert(pages),
            [
                {
                    "incident_id": incident_id,
                    "cycle": 1,
                    "loop": 0,
                    "step": step,
                    "recipient": "alice",
                    "channel": "sms",
                    "address": PHONES["alice"],
                    "status": "pending",
                    "next_attempt_at": now - timedelta(seconds=1),
                    "created_at": now,
                }
                for step in range(count)
            ],
        )


async def page_rows(db: Database) -> list[Any]:
    async with db.connect() as conn:
        return list((await conn.execute(select(pages).order_by(pages.c.id))).all())


@asynccontextmanager
async def second(db: Database) -> AsyncIterator[Database]:
    """Another replica's engine on the same database."""
    other = Database(db.url, pool_size=5)
    try:
        yield other
    finally:
        await other.dispose()


async def drain(replica: PageSender) -> None:
    """Passes one after another, as an engine runs them, until nothing is due."""
    while await replica.run_once():
        pass


async def until_sent(replica: PageSender, lease: timedelta) -> int:
    """Passes until one handles a page (a lease has run out); returns how many it handled."""
    async with asyncio.timeout(30):
        while not (handled := await replica.run_once()):
            await asyncio.sleep(lease.total_seconds() / 10)
    return handled


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("lease", "delay", "passes"),
    [
        # each send is short, but a pass of BATCH sends outlasts the lease
        pytest.param(1.0, 0.1, 1, id="pass-outlasts-lease"),
        # each send outlasts the lease; several passes per replica at once
        pytest.param(0.9, 1.2, 5, id="send-outlasts-lease"),
    ],
)
async def test_two_replicas_and_a_slow_provider_send_fifty_pages_exactly_once(
    lease: float, delay: float, passes: int
) -> None:
    async with postgres_database() as url, migrated(url) as db, second(db) as other:
        clock = SystemClock()
        await add_pages(db, clock, 50)
        delivered: Counter[str] = Counter()
        replicas = [
            sender(engine, clock, SlowSms(name, delivered, delay), timedelta(seconds=lease))
            for name, engine in (("one", db), ("two", other))
        ]

        await asyncio.gather(*(drain(replica) for replica in replicas for _ in range(passes)))

        assert len(delivered) == 50  # no page missed
        assert set(delivered.values()) == {1}  # no page sent twice
        rows = await page_rows(db)
        assert {(r.status, r.attempts, r.claimed_until) for r in rows} == {("sent", 1, None)}
        # each row records the answer of the provider that really sent it
        keys = {r.provider_ref: f"{r.incident_id}.1.0.{r.step}.alice.sms" for r in rows}
        assert all(ref.endswith(f":{key}") for ref, key in keys.items())


@pytest.mark.postgres
async def test_a_replica_that_dies_mid_send_leaves_its_page_to_the_other_once() -> None:
    lease = timedelta(seconds=0.6)
    async with postgres_database() as url, migrated(url) as db, second(db) as other:
        clock = SystemClock()
        await add_pages(db, clock, 1)
        delivered: Counter[str] = Counter()
        dying = SlowSms("dying", delivered, 0, hang=True)
        survivor = SlowSms("survivor", delivered, 0.05)
        a, b = sender(db, clock, dying, lease), sender(other, clock, survivor, lease)

        victim = asyncio.create_task(a.run_once())
        await asyncio.wait_for(dying.started.wait(), timeout=10)
        # alive, the sender's heartbeat keeps the lease: three leases go by, nobody takes it
        for _ in range(30):
            assert await b.run_once() == 0
            await asyncio.sleep(lease.total_seconds() / 10)
        assert sum(delivered.values()) == 1

        assert dying.task is not None
        dying.task.cancel()  # the replica dies: its send and its heartbeat stop, unrecorded
        await asyncio.gather(victim, return_exceptions=True)
        assert (await page_rows(db))[0].status == "sending"

        assert await until_sent(b, lease) == 1  # once the lease runs out
        for _ in range(10):
            assert await b.run_once() == 0
            await asyncio.sleep(lease.total_seconds() / 10)
        (key,) = delivered
        assert delivered[key] == 2  # the dead replica's message, and exactly one more
        (row,) = await page_rows(db)
        assert (row.status, row.provider, row.attempts) == ("sent", "survivor", 1)


async def test_a_send_longer_than_the_lease_keeps_its_page(db: Database) -> None:
    """On SQLite and PostgreSQL: the heartbeat renews the lease, so a second replica polling
    throughout never takes the page."""
    lease = timedelta(seconds=0.6)
    async with second(db) as other:
        clock = SystemClock()
        await add_pages(db, clock, 1)
        delivered: Counter[str] = Counter()
        slow = SlowSms("slow", delivered, 3 * lease.total_seconds())
        a = sender(db, clock, slow, lease)
        b = sender(other, clock, SlowSms("other", delivered, 0), lease)

        sending = asyncio.create_task(a.run_once())
        await asyncio.wait_for(slow.started.wait(), timeout=10)
        while not sending.done():
            assert await b.run_once() == 0
            await asyncio.sleep(lease.total_seconds() / 10)
        assert await sending == 1
        assert list(delivered.values()) == [1]
        (row,) = await page_rows(db)
        assert (row.status, row.provider, row.claimed_until) == ("sent", "slow", None)


async def test_a_replica_stalled_past_its_lease_records_nothing(db: Database) -> None:
    """On SQLite and PostgreSQL: a replica that could not renew its lease (the clock jumps
    past it) loses the page to another; when its send finally returns, it overwrites nothing."""
    async with second(db) as other:
        clock = FakeClock()
        await add_pages(db, clock, 1)
        delivered: Counter[str] = Counter()
        stalled = SlowSms("stalled", delivered, 0, hang=True)
        a = sender(db, clock, stalled, timedelta(seconds=60))
        b = sender(other, clock, SlowSms("taker", delivered, 0), timedelta(seconds=60))

        late = asyncio.create_task(a.run_once())
        await asyncio.wait_for(stalled.started.wait(), timeout=10)
        assert await b.run_once() == 0  # the lease holds
        clock.advance(timedelta(seconds=61))
        assert await b.run_once() == 1
        (row,) = await page_rows(db)
        assert (row.status, row.provider) == ("sent", "taker")

        stalled.release.set()
        assert await late == 1
        (after,) = await page_rows(db)
        assert (after.status, after.provider, after.provider_ref, after.attempts) == (
            "sent",
            "taker",
            row.provider_ref,
            1,
        )


async def test_a_provider_that_never_answers_is_tried_again_later(db: Database) -> None:
    """On SQLite and PostgreSQL: a hung provider call does not hold its page for ever."""
    clock = FakeClock()
    await add_pages(db, clock, 1)
    delivered: Counter[str] = Counter()
    hung = SlowSms("hung", delivered, 0, hang=True)
    a = sender(db, clock, hung, timedelta(seconds=60), send_timeout=timedelta(seconds=0.2))

    assert await a.run_once() == 1
    (row,) = await page_rows(db)
    assert (row.status, row.reason, row.attempts) == ("pending", "provider timeout", 1)
    assert row.claimed_until is None and row.next_attempt_at > clock.now()


class CountingSms:
    """An SMS provider that holds every message until `gate` opens, and records how many it
    held at once, in all and per phone number."""

    channel, provider = "sms", "counting"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.now: Counter[str] = Counter()
        self.most = 0
        self.most_per_phone = 0
        self.sent: list[str] = []

    async def send(self, page: Page) -> Receipt:
        self.now[page.to] += 1
        self.most = max(self.most, sum(self.now.values()))
        self.most_per_phone = max(self.most_per_phone, self.now[page.to])
        await self.gate.wait()
        self.now[page.to] -= 1
        self.sent.append(page.key)
        return Receipt(self.provider, page.key)

    async def aclose(self) -> None:
        pass


async def test_a_slow_provider_gets_pages_for_several_people_at_once_but_one_each(
    db: Database,
) -> None:
    """A slow provider holds a pass back by about one send, not by a queue of sends: pages to
    different people go out together, never two at once to the same person."""
    clock = SystemClock()
    await add_pages(db, clock, 4)
    async with db.begin() as conn:  # the same steps for bob and carol
        rows = (await conn.execute(select(pages))).all()
        await conn.execute(
            insert(pages),
            [
                {
                    **{k: v for k, v in row._mapping.items() if k != "id"},
                    "recipient": who,
                    "address": PHONES[who],
                }
                for who in ("bob", "carol")
                for row in rows
            ],
        )
    sms = CountingSms()
    replica = sender(db, clock, sms, timedelta(seconds=60))

    draining = asyncio.create_task(drain(replica))
    async with asyncio.timeout(10):  # a bound, not a measurement
        while sum(sms.now.values()) < 3:
            await asyncio.sleep(0.01)
    for _ in range(20):  # held: a page for each person in flight, and no second one
        await asyncio.sleep(0.01)
        assert dict(sms.now) == {PHONES[who]: 1 for who in ("alice", "bob", "carol")}
    sms.gate.set()
    await draining

    assert len(sms.sent) == len(set(sms.sent)) == 12
    assert (sms.most, sms.most_per_phone) == (3, 1)
