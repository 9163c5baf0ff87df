"""The engine: idempotent reconcile passes over the database, woken on a timer.

Every timer is a row with a due time (ack expiry, silence end, flapping settling, digest
closing, outbox delivery). A pass claims what is due and advances it; passes are safe to run
twice and on several replicas at once. APScheduler only wakes the engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import and_, func, select, update

from bot.deploys.alerting import AlertRollbacks
from bot.deploys.runner import Runner
from bot.escalation.engine import BATCH
from bot.escalation.pager import PageSender
from bot.flights import Flights
from bot.gates.drills import Drills
from bot.gates.runner import GateRunner
from bot.heartbeats.monitor import HeartbeatPass
from bot.incidents.status import card_destinations, card_ref
from bot.maintenance.upkeep import RecurringWindows
from bot.model import Tier
from bot.oncall.groups import GroupSync
from bot.outbox.worker import OutboxWorker
from bot.paging.poll import ReceiptPass
from bot.reports.weekly import WeeklyReports
from bot.retention import RetentionPass
from bot.services import Services
from bot.silences.found import FoundSilences
from bot.silences.push import SilencePush
from bot.store.outage import classify
from bot.store.tables import digests, incidents, outbox

log = structlog.get_logger(__name__)
T = TypeVar("T")
Step = Callable[[datetime], Awaitable[None]]

PASS_TIMEOUT = 120.0
"""Seconds a pass may take before it is cut. Far above what a healthy pass needs (the busiest,
escalation under a 10,000-timer load, takes a few seconds): only a pass stuck on something that
never answers reaches it."""
COARSE = 1.0
"""Seconds between wake-ups, at the most often, of the lanes whose timers are coarse: upkeep
(ack expiry, silence ends, cards put off by seconds, inbox leases of 30 s) and deploys (runs
polled every few seconds). Waking them as often as escalation steps would only add queries."""
WOKEN_BY_INGEST = ("escalations", "delivery")
STOP_GRACE = 10.0
"""Seconds a stopping engine gives outside calls in the air to land."""


class Engine:
    def __init__(
        self,
        services: Services,
        worker: OutboxWorker,
        pager: PageSender | None = None,
        runner: Runner | None = None,
        gates: GateRunner | None = None,
        alerts: AlertRollbacks | None = None,
        drills: Drills | None = None,
        resume: Callable[[datetime], Awaitable[None]] | None = None,
        pass_timeout: float = PASS_TIMEOUT,
        heartbeats: HeartbeatPass | None = None,
        silences: SilencePush | None = None,
        found: FoundSilences | None = None,
        receipts: ReceiptPass | None = None,
    ) -> None:
        self.s = services
        self.worker = worker
        self.pager = pager
        self.runner = runner
        self.gates = gates
        self.alerts = alerts
        self.drills = drills
        self.resume = resume
        self.heartbeats = heartbeats
        self.silences = silences
        self.found = found
        self.receipts = receipts
        self.retention = RetentionPass(services.settings, services.db, services.metrics)
        self.windows = RecurringWindows(services.settings, services.db)
        self.reports = WeeklyReports(services)
        self.groups = GroupSync(services, worker.platforms)
        self.pass_timeout = pass_timeout
        self._scheduler: Any = None
        self._kicks: dict[str, Callable[[], None]] = {}
        self._lock = asyncio.Lock()
        self._lane_tasks: dict[str, asyncio.Task[None]] = {}
        self._woken: set[str] = set()
        self._escalated = 0
        """Escalations opened and steps run by this engine (the lane's way to see work)."""
        self._stopping = False
        self._again = False

    async def tick(self) -> None:
        """Rounds of every pass until nobody asked for another, each waiting for the outside
        calls it started: what tests and one-shot commands use. Overlapping ticks fold into
        the running round instead of queueing."""
        if self._lock.locked():
            self._again = True
            return
        async with self._lock:
            self._again = True
            while self._again:
                self._again = False
                await self._round()

    async def _round(self) -> None:
        now = self.s.clock.now()
        for name, step in self._upkeep():
            await self._timed(name, step, now)
        await self._timed("escalations", self._escalate, now)
        for name, step in self._deploys(wait=True):
            await self._timed(name, step, now)
        while (await self._deliver()) | (await self._pages()):
            pass  # pages may add chat messages, and chat messages pages: until both are done
        await self._measure()

    def _upkeep(self) -> tuple[tuple[str, Step], ...]:
        return (
            ("inbox", self._resume),
            ("acks", self._expire_acks),
            ("silences", self._end_silences),
            ("am_silences", self._push_silences),
            ("am_silences_found", self._find_silences),
            ("flapping", self._settle_flapping),
            ("digests", self._close_digests),
            ("seen", self._write_seen),
            ("cards", self._due_cards),
            ("schedules", self.s.oncall.run_due),
            ("chat_groups", self.groups.run),
            ("reports", self.reports.run),
            ("windows", self.windows.run),
            ("retention", self.retention.run),
            ("heartbeats", self._heartbeats),
            ("page_receipts", self._page_receipts),
        )

    def _deploys(self, *, wait: bool) -> tuple[tuple[str, Step], ...]:
        """Deploy runs (lapse, start, poll), health gates, alert rollbacks and drills. With
        `wait` False the backend calls and metrics queries they start fly on (see
        `bot.flights`) and the passes return at once."""

        async def runs(_now: datetime) -> None:
            if self.runner is not None:
                await self.runner.run_once(wait=wait)

        async def gates(_now: datetime) -> None:
            if self.gates is not None:
                await self.gates.run_once(wait=wait)

        async def alerts(_now: datetime) -> None:
            if self.alerts is not None:
                await self.alerts.run_once(self.s.clock.now())

        async def drills(_now: datetime) -> None:
            if self.drills is not None and self.s.settings.deploy.drills:
                await self.drills.run_once(self.s.clock.now())

        return (("runs", runs), ("gates", gates), ("alerts", alerts), ("drills", drills))

    async def _deliver(self) -> bool:
        """One batch of chat messages; whether there may be more."""
        started = time.perf_counter()
        try:
            return await self._cut("outbox", self.worker.run_once()) > 0
        except Exception as exc:
            if not self._skipped(exc, "outbox"):
                log.exception("outbox pass failed")
            return False
        finally:
            self._took("outbox", started)

    async def _pages(self) -> bool:
        """One batch of SMS / voice / e-mail pages; whether there may be more."""
        if self.pager is None:
            return False
        started = time.perf_counter()
        try:
            # a send may take the pager's own send timeout: the cut comes only after it
            limit = self.pass_timeout + self.pager.send_timeout.total_seconds()
            return await self._cut("pages", self.pager.run_once(), limit) > 0
        except Exception as exc:
            if not self._skipped(exc, "pages"):
                log.exception("page pass failed")
            return False
        finally:
            self._took("pages", started)

    async def _measure(self) -> None:
        try:
            await self._measure_outbox(self.s.clock.now())
        except Exception as exc:
            if not self._skipped(exc, "outbox depth"):
                log.exception("outbox pass failed")

    async def _cut(self, name: str, work: Awaitable[T], limit: float | None = None) -> T:
        """`work`, cut after `limit` (the pass timeout): a pass stuck on a connection that
        never answers must not hold its lane for ever. Its transaction rolls back; passes are
        idempotent, so the next one does the work again."""
        limit = self.pass_timeout if limit is None else limit
        try:
            async with asyncio.timeout(limit):
                return await work
        except TimeoutError:
            self.s.metrics.engine_pass_timeouts.labels(name).inc()
            log.warning("engine pass cut", step=name, seconds=limit)
            raise

    def _skipped(self, exc: Exception, name: str) -> bool:
        """Whether the pass `name` failed because the database is unavailable; such a pass is
        counted by the outage tracker (which logs the outage once) and runs again next round."""
        unavailable = classify(exc)
        if unavailable is not None:
            self.s.db.outage.skipped(unavailable, what=f"engine pass {name}")
        return unavailable is not None

    async def _timed(self, name: str, step: Step, now: datetime | None = None) -> None:
        """Run one pass: a failure is logged (or counted as an outage) and the lane goes on;
        its duration goes to ``tocsin_engine_pass_seconds{pass}``."""
        started = time.perf_counter()
        try:
            await self._cut(name, step(now or self.s.clock.now()))
        except TimeoutError:
            pass
        except Exception as exc:
            if not self._skipped(exc, name):
                log.exception("engine pass failed", step=name)
        finally:
            self._took(name, started)

    def _took(self, name: str, started: float) -> None:
        self.s.metrics.engine_pass_seconds.labels(name).observe(time.perf_counter() - started)

    async def _resume(self, now: datetime) -> None:
        """Presses and commands a stopped process acknowledged but did not finish."""
        if self.resume is not None:
            await self.resume(now)

    async def _heartbeats(self, now: datetime) -> None:
        """Missing heartbeats raise their alert, returning ones resolve it (`bot.heartbeats`)."""
        if self.heartbeats is not None and await self.heartbeats.run(now):
            self.wake()  # a blind-monitoring incident pages now, not on the next timer

    async def _page_receipts(self, now: datetime) -> None:
        """Phone pages not confirmed delivered in time move on; polled providers are asked
        for their delivery reports (`bot.paging.poll`)."""
        if self.receipts is not None and await self.receipts.run(now):
            self.wake_pages()

    def wake_pages(self) -> None:
        """Pages moved to their next provider go out now, not on the pages lane's next timer."""
        kick = self._kicks.get("pages")
        if kick is not None:
            kick()

    async def _escalate(self, now: datetime) -> None:
        """Open escalations for newly triggered incidents, then run the steps that are due."""
        escalator = self.s.escalator
        while (opened := await escalator.start(now)) >= BATCH:
            self._escalated += opened
        self._escalated += opened
        while (ran := await escalator.run_due()) >= BATCH:
            self._escalated += ran
        self._escalated += ran

    async def _due_cards(self, now: datetime) -> None:
        """Cards whose refresh was put off (see `outbox.update_delay`) go into the outbox."""
        async with self.s.db.begin() as conn:
            stmt = self.s.db.for_update(
                select(
                    incidents.c.id,
                    incidents.c.tier,
                    incidents.c.destinations,
                    incidents.c.page_destinations,
                )
                .where(incidents.c.card_due_at <= now)
                .limit(500),
                skip_locked=True,
            )
            rows = (await conn.execute(stmt)).all()
            if not rows:
                return
            await conn.execute(
                update(incidents)
                .where(incidents.c.id.in_([r.id for r in rows]))
                .values(card_due_at=None)
            )
            for row in rows:
                await self.s.outbox.card(
                    conn,
                    card_ref(row.id),
                    card_destinations(row),
                    priority=Tier(row.tier).rank,
                    now=now,
                )

    async def _write_seen(self, now: datetime) -> None:
        if self.s.seen.due(now):
            await self.s.seen.flush(self.s.db)

    async def _expire_acks(self, now: datetime) -> None:
        async with self.s.db.begin() as conn:
            await self.s.incidents.expire_acks(conn, now)

    async def _end_silences(self, now: datetime) -> None:
        async with self.s.db.begin() as conn:
            await self.s.incidents.end_silences(conn, now)

    async def _push_silences(self, now: datetime) -> None:
        """Silences asked for in Alertmanager made or expired there (`bot.silences.push`)."""
        if self.silences is not None:
            await self.silences.run_once(now)

    async def _find_silences(self, now: datetime) -> None:
        """Silences made in Alertmanager put on the cards they cover (`bot.silences.found`)."""
        if self.found is not None:
            await self.found.run(now)

    async def _settle_flapping(self, now: datetime) -> None:
        """A flapping incident whose alerts kept still for a window is no longer flapping."""
        async with self.s.db.begin() as conn:
            window = self.s.settings.incidents.flapping.window
            await self.s.incidents.settle_flapping(conn, now, window)

    async def _close_digests(self, now: datetime) -> None:
        """A digest that took nothing new for the storm horizon closes; later incidents get
        their own cards again."""
        cutoff = now - self.s.settings.outbox.storm_horizon
        async with self.s.db.begin() as conn:
            await conn.execute(
                update(digests)
                .where(and_(digests.c.open, digests.c.updated_at <= cutoff))
                .values(open=False)
            )

    async def _measure_outbox(self, now: datetime) -> None:
        async with self.s.db.connect() as conn:
            row = (
                await conn.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(
                        outbox.c.status == "pending"
                    )
                )
            ).one()
        self.s.metrics.outbox_depth.set(row[0])
        self.s.metrics.outbox_lag.set((now - row[1]).total_seconds() if row[1] else 0.0)

    def start(self, interval: float, *, coarse: float = COARSE) -> None:
        """Wake each lane on its own timer: upkeep, delivery, escalations, pages and deploys
        never wait for one another, so a long chat queue holds back no escalation step, a slow
        SMS provider no chat message, and a hanging metrics source no deploy. The lanes whose
        timers are coarse wake every `coarse` seconds at most often."""
        self._stopping = False
        self._scheduler = scheduler = AsyncIOScheduler()
        for name, (body, slow) in self._lanes().items():
            self._kicks[name] = kick = self._lane(name, body)
            scheduler.add_job(
                _job(kick),
                "interval",
                seconds=max(interval, coarse) if slow else interval,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        scheduler.start()

    def _lanes(self) -> dict[str, tuple[Callable[[], Awaitable[bool]], bool]]:
        """Each lane's body (True asks for another go at once), and whether it is coarse."""

        async def upkeep() -> bool:
            now = self.s.clock.now()
            for name, step in self._upkeep():
                await self._timed(name, step, now)
            await self._measure()
            return False

        async def escalations() -> bool:
            """Goes again at once while it finds work: steps come due all the time in a
            storm, and one found now is one less waiting for the next wake-up."""
            before = self._escalated
            await self._timed("escalations", self._escalate)
            return self._escalated > before

        async def deploys() -> bool:
            now = self.s.clock.now()
            for name, step in self._deploys(wait=False):
                await self._timed(name, step, now)
            return False

        return {
            "upkeep": (upkeep, True),
            "delivery": (self._deliver, False),
            "escalations": (escalations, False),
            "pages": (self._pages, False),
            "deploys": (deploys, True),
        }

    def _lane(self, name: str, body: Callable[[], Awaitable[bool]]) -> Callable[[], None]:
        """What wakes one lane: it starts the lane's loop when none is running (else marks the
        lane woken, so the running loop goes once more) and returns at once, so wake-ups never
        pile up behind a long pass."""

        async def loop() -> None:
            again = True
            while again and not self._stopping:
                self._woken.discard(name)
                try:
                    again = await body() or name in self._woken
                except Exception:  # a pass logs its own failures; this is a last resort
                    log.exception("engine lane failed", lane=name)
                    return

        def kick() -> None:
            running = self._lane_tasks.get(name)
            if running is not None and not running.done():
                self._woken.add(name)
            elif not self._stopping:
                self._lane_tasks[name] = asyncio.get_running_loop().create_task(loop())

        return kick

    def wake(self) -> None:
        """New alerts came in: open their escalations and deliver their cards now, without
        waiting for the timers (the other lanes keep their pace)."""
        if self._lock.locked():
            self._again = True
        for name in WOKEN_BY_INGEST:
            kick = self._kicks.get(name)
            if kick is not None:
                kick()

    async def stop(self) -> None:
        """Stop waking, and let running passes finish (nothing is cut in half); outside calls
        still in the air get `STOP_GRACE` to land, then are cut (their leases hand them to
        another replica)."""
        if self._scheduler is not None:
            self._stopping = True
            self._scheduler.pause()
            async with self._lock:
                await asyncio.gather(*self._lane_tasks.values(), return_exceptions=True)
                self._scheduler.shutdown(wait=False)
            self._scheduler = None
            self._kicks.clear()
            self._lane_tasks.clear()
        for flights in self._flights():
            try:
                async with asyncio.timeout(STOP_GRACE):
                    await flights.drain()
            except TimeoutError:
                await flights.cancel()
        try:  # counters gathered since the last pass (only counters: losing them loses no alert)
            await self.s.seen.flush(self.s.db)
        except Exception as exc:
            if not self._skipped(exc, "seen"):
                raise

    def _flights(self) -> list[Flights]:
        return [f.flights for f in (self.runner, self.gates) if f is not None]


def _job(kick: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    """`kick` as the coroutine function APScheduler runs on the event loop (a plain function
    it would run on a thread)."""

    async def job() -> None:
        kick()

    return job
