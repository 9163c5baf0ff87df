"""The engine: idempotent reconcile passes over the database, woken on a timer.

Every timer is a row with a due time (ack expiry, silence end, flapping settling, digest
closing, outbox delivery). A pass claims what is due and advances it; passes are safe to run
twice and on several replicas at once. APScheduler only wakes the engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import and_, func, select, update

from bot.deploys.alerting import AlertRollbacks
from bot.deploys.runner import Runner
from bot.escalation.engine import BATCH
from bot.escalation.pager import PageSender
from bot.gates.drills import Drills
from bot.gates.runner import GateRunner
from bot.incidents.status import Status, card_destinations, card_ref
from bot.model import Tier
from bot.outbox.worker import OutboxWorker
from bot.retention import RetentionPass
from bot.services import Services
from bot.store.outage import classify
from bot.store.tables import digests, incidents, outbox

log = structlog.get_logger(__name__)


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
    ) -> None:
        self.s = services
        self.worker = worker
        self.pager = pager
        self.runner = runner
        self.gates = gates
        self.alerts = alerts
        self.drills = drills
        self.resume = resume
        self.retention = RetentionPass(services.settings, services.db, services.metrics)
        self._scheduler: Any = None
        self._job: Any = None
        self._lock = asyncio.Lock()
        self._timer_lock = asyncio.Lock()
        self._page_lock = asyncio.Lock()
        self._stopping = False
        self._again = False

    async def tick(self) -> None:
        """Rounds of every pass until nobody asked for another. Overlapping wake-ups fold into
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
        for name, step in (
            ("inbox", self._resume),
            ("acks", self._expire_acks),
            ("silences", self._end_silences),
            ("flapping", self._settle_flapping),
            ("digests", self._close_digests),
            ("seen", self._write_seen),
            ("cards", self._due_cards),
            ("escalations", self._escalate),
            ("schedules", self.s.oncall.run_due),
            ("runs", self._runs),
            ("retention", self.retention.run),
        ):
            await self._timed(name, step, now)
        while await self._deliver():
            pass
        try:
            await self._measure_outbox(self.s.clock.now())
        except Exception as exc:
            if not self._skipped(exc, "outbox depth"):
                log.exception("outbox pass failed")

    async def _deliver(self) -> bool:
        """One batch of chat messages, and (when the engine is ticked by hand rather than
        started) one of SMS / voice / e-mail pages."""
        done = 0
        started = time.perf_counter()
        try:
            done += await self.worker.run_once()
        except Exception as exc:
            if not self._skipped(exc, "outbox"):
                log.exception("outbox pass failed")
        finally:
            self._took("outbox", started)
        if self._scheduler is None:
            done += await self._pages()
        return done > 0

    async def _pages(self) -> int:
        """One batch of pages. A started engine runs this on its own timer, so a slow SMS or
        voice provider holds back no chat message (and a long chat queue no page)."""
        if self.pager is None:
            return 0
        started = time.perf_counter()
        try:
            return await self.pager.run_once()
        except Exception as exc:
            if not self._skipped(exc, "pages"):
                log.exception("page pass failed")
            return 0
        finally:
            self._took("pages", started)

    async def _page_timer(self) -> None:
        if not self._page_lock.locked():
            async with self._page_lock:
                while await self._pages() and not self._stopping:
                    pass

    def _skipped(self, exc: Exception, name: str) -> bool:
        """Whether the pass `name` failed because the database is unavailable; such a pass is
        counted by the outage tracker (which logs the outage once) and runs again next round."""
        unavailable = classify(exc)
        if unavailable is not None:
            self.s.db.outage.skipped(unavailable, what=f"engine pass {name}")
        return unavailable is not None

    async def _timed(
        self,
        name: str,
        step: Callable[[datetime], Awaitable[None]],
        now: datetime | None = None,
    ) -> None:
        """Run one pass: a failure is logged (or counted as an outage) and the round goes on;
        its duration goes to ``tocsin_engine_pass_seconds{pass}``."""
        started = time.perf_counter()
        try:
            await step(now or self.s.clock.now())
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

    async def _runs(self, _now: datetime) -> None:
        """Deploy runs: lapse unanswered ones, start queued ones, poll running ones."""
        if self.runner is not None:
            await self.runner.run_once()
        if self.gates is not None:
            await self.gates.run_once()
        if self.alerts is not None:
            await self.alerts.run_once(self.s.clock.now())
        if self.drills is not None and self.s.settings.deploy.drills:
            await self.drills.run_once(self.s.clock.now())

    async def _escalate(self, now: datetime) -> None:
        """Open escalations for newly triggered incidents, then run the steps that are due."""
        escalator = self.s.escalator
        while await escalator.start(now) >= BATCH:
            pass
        while await escalator.run_due() >= BATCH:
            pass

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

    async def _settle_flapping(self, now: datetime) -> None:
        """A flapping incident whose alerts kept still for a window is no longer flapping."""
        quiet = now - self.s.settings.incidents.flapping.window
        async with self.s.db.begin() as conn:
            stmt = self.s.db.for_update(
                select(incidents)
                .where(
                    and_(
                        incidents.c.flapping,
                        incidents.c.status != Status.RESOLVED,
                        incidents.c.updated_at <= quiet,
                    )
                )
                .limit(100),
                skip_locked=True,
            )
            for row in (await conn.execute(stmt)).all():
                values: dict[str, Any] = {"flapping": False, "updated_at": now}
                if row.firing_count <= 0:
                    values.update(
                        status=Status.RESOLVED,
                        resolved_at=now,
                        resolved_by="monitoring",
                        silenced_until=None,
                        ack_expires_at=None,
                    )
                await conn.execute(
                    update(incidents)
                    .where(incidents.c.id == row.id)
                    .values(**values, version=incidents.c.version + 1)
                )
                await self.s.outbox.card(
                    conn,
                    card_ref(row.id),
                    card_destinations(row),
                    priority=Tier(row.tier).rank,
                    now=now,
                )

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

    def start(self, interval: float) -> None:
        self._stopping = False
        self._scheduler = scheduler = AsyncIOScheduler()

        def every(job: Callable[[], Awaitable[None]], instances: int) -> Any:
            return scheduler.add_job(
                job,
                "interval",
                seconds=interval,
                max_instances=instances,
                coalesce=True,
                misfire_grace_time=None,
            )

        self._job = every(self.tick, 4)
        # escalation timers and pages get their own wake-ups, so a long delivery queue in the
        # round above never holds a step or a page back (nor a slow SMS provider a chat message)
        every(self._timers, 2)
        every(self._page_timer, 2)
        scheduler.start()

    async def _timers(self) -> None:
        if not self._timer_lock.locked():
            async with self._timer_lock:
                await self._timed("escalations", self._escalate)

    def wake(self) -> None:
        """Ask for a round soon (after an ingest or an action), without waiting for the timer."""
        if self._lock.locked():
            self._again = True
        elif self._job is not None:
            self._job.modify(next_run_time=datetime.now(UTC))

    async def stop(self) -> None:
        """Stop waking, and let a running round finish (nothing is cut in half)."""
        if self._scheduler is not None:
            self._stopping = True
            self._scheduler.pause()
            async with self._lock, self._timer_lock, self._page_lock:
                self._scheduler.shutdown(wait=False)
            self._scheduler = self._job = None
        try:  # counters gathered since the last pass (only counters: losing them loses no alert)
            await self.s.seen.flush(self.s.db)
        except Exception as exc:
            if not self._skipped(exc, "seen"):
                raise
