"""Three engines on one PostgreSQL page each person exactly once per step, and killing one of
them mid-escalation loses no step."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.notify.memory import MemoryNotifier
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.errors import RetryableDelivery
from bot.ports import Notifier, Page, Receipt
from bot.store.db import Database
from bot.store.tables import escalation_log, escalations, pages
from tests.support import RecordingPlatform, firing, make_settings, migrated, postgres_database
from tests.unit.test_escalation import paging_config

pytestmark = pytest.mark.postgres

INCIDENTS = 200


class Stalling:
    """A replica's SMS provider that, once armed, hangs on its first send: the replica dies
    holding claims (`task`, the send and its lease heartbeat, is what the test kills). Until
    armed it passes pages on."""

    channel, provider = "sms", "memory"

    def __init__(self, inner: MemoryNotifier) -> None:
        self.inner = inner
        self.armed = False
        self.stalled, self.release = asyncio.Event(), asyncio.Event()
        self.task: asyncio.Task[Any] | None = None

    async def send(self, page: Page) -> Receipt:
        if not self.armed:
            return await self.inner.send(page)
        self.task = asyncio.current_task()
        self.stalled.set()
        await self.release.wait()
        raise RetryableDelivery("the replica is gone")

    async def aclose(self) -> None:
        pass


def replica(url: str, clock: FakeClock, chat: RecordingPlatform, sms: Notifier) -> Tocsin:
    config = paging_config(
        paging={
            "channels": {"P0": ["chat", "sms"]},
            "rate_limits": {"sms": [{"count": 100000, "per": "1m"}]},
        },
        outbox={"rate_limits": {"fake": {"rate": 10000, "burst": 10000}}},
    )
    config["escalation_policies"]["primary"] = {
        "repeat": 1,
        "steps": [
            {"targets": ["schedule:primary"], "delay": "1m"},
            {"targets": ["user:carol"], "delay": "1m"},
        ],
    }
    app = bootstrap(
        make_settings(**config),
        clock=clock,
        platforms={"fake": chat},
        database=Database(url, pool_size=5),
        notifiers={"sms": sms},
    )
    return app


async def count(db: Database, stmt: Any) -> int:
    async with db.connect() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def test_three_replicas_one_killed_page_everyone_exactly_once() -> None:
    async with postgres_database() as url, migrated(url) as db:
        clock = FakeClock()
        chat, sms = RecordingPlatform(), MemoryNotifier("sms")
        stalling = Stalling(sms)
        apps = [replica(url, clock, chat, sms) for _ in range(2)]
        apps.append(replica(url, clock, chat, stalling))
        events = [firing(f"Alert{n}") for n in range(INCIDENTS)]
        for start in range(0, INCIDENTS, 50):
            await apps[start % 3].ingest.ingest(events[start : start + 50])

        # first round: all three race for the same due rows
        await asyncio.gather(*(app.engine.tick() for app in apps))
        assert len(sms.sent) == INCIDENTS

        # step 2 comes due; the third replica claims it all, then dies while sending SMS
        clock.advance(timedelta(seconds=61))
        stalling.armed = True
        victim = asyncio.create_task(apps[2].engine.tick())
        await asyncio.wait_for(stalling.stalled.wait(), timeout=60)
        sending = await count(db, select(func.count()).select_from(pages).where(
            pages.c.status == "sending"))  # fmt: skip
        assert sending > 0  # it holds claims it will never finish
        assert stalling.task is not None
        stalling.task.cancel()  # the replica dies: its send and its heartbeat stop
        victim.cancel()
        await asyncio.gather(victim, return_exceptions=True)
        await apps[2].services.db.dispose()

        for _ in range(8):  # leases of the dead replica's claims run out after a minute
            clock.advance(timedelta(seconds=61))
            await asyncio.gather(*(app.engine.tick() for app in apps[:2]))

        steps = 2 * 2  # two steps, run twice (repeat: 1)
        assert await count(db, select(func.count()).select_from(escalation_log).where(
            escalation_log.c.kind == "step")) == INCIDENTS * steps  # fmt: skip
        states = await count(db, select(func.count()).select_from(escalations).where(
            escalations.c.state == "exhausted"))  # fmt: skip
        assert states == INCIDENTS
        assert await count(db, select(func.count()).select_from(pages)) == INCIDENTS * steps * 2
        assert await count(db, select(func.count()).select_from(pages).where(
            pages.c.status.notin_(["sent", "queued"]))) == 0  # fmt: skip

        # zero duplicates and zero misses where people see them: each SMS key once...
        keys = Counter(page.key for page in sms.sent)
        assert len(keys) == INCIDENTS * steps and set(keys.values()) == {1}
        assert Counter(page.to for page in sms.sent) == {
            "+8613800000001": INCIDENTS * 2,  # alice (on call), both rounds
            "+8613800000003": INCIDENTS * 2,  # carol
        }
        # ...each direct-message card posted once (the first round's page)...
        posts = Counter((s.dest, s.card.ref) for s in chat.ops("post") if s.card and "@" in s.dest)
        assert len(posts) == INCIDENTS * 2 and set(posts.values()) == {1}
        # ...and the second round's threaded reminder once each
        reminders = Counter((s.dest, s.text) for s in chat.ops("text") if "You are paged" in s.text)
        assert len(reminders) == INCIDENTS * 2 and set(reminders.values()) == {1}
        stalling.release.set()  # nothing of the dead replica is left to record anything
        await asyncio.sleep(0.2)
        assert await count(db, select(func.count()).select_from(pages).where(
            pages.c.status.notin_(["sent", "queued"]))) == 0  # fmt: skip
        for app in apps[:2]:
            await app.services.db.dispose()
