"""Delivery of SMS, voice and e-mail pages through the configured providers.

A pass takes due pages one at a time (``FOR UPDATE SKIP LOCKED``, then a lease) and sends up to
`CONCURRENCY` of them at once, never two to one person at once (so a slow provider holds back
the pass by one send's time, not a queue of them). For each page it:
cancels it if the incident was acknowledged or resolved meanwhile, holds it back while the
person's channel is over its rate windows (it waits, it is never dropped), or sends it and
records the provider's answer.

Each page is sent once while its sender lives, however slow the provider:

- a page is claimed alone, so pages waiting behind a slow send stay free for other replicas;
- the lease's end is also the claim's fencing token (a random sub-millisecond offset makes it
  unique to the claim). Right before the send the lease is renewed with an UPDATE that matches
  that exact token; no row matched means another replica took the page over, and it is skipped;
- while the provider is called, a heartbeat renews the lease every third of it, with the same
  check, so no other replica sees it expire;
- the result is written only where the token still matches: a replica that stalled past its
  lease finds the page taken over and records nothing;
- a provider call that does not end within `SEND_TIMEOUT` is abandoned and tried again later.

SMS and voice pages go through the channel's providers in order (`bot.paging.chains`): a send
that fails or times out while another provider takes the number is recorded as a failed send
and the page is due again at once with the next provider; the last provider retries with
back-off up to `paging.max_attempts`. A send whose provider has a `confirm_within`, with a
provider after it, waits for a ``delivered`` report until `confirm_by`; then
`bot.paging.poll` hands the page on (see `bot.paging.failover` for what that leaves open).

A send runs to completion even when the engine is being stopped, so a stopping replica never
leaves a page sent but unrecorded. A replica that dies mid-send (or cannot reach the database
for longer than its lease) leaves a lease that expires, and the page is sent again: a duplicate
rather than a missed page. Where a provider de-duplicates, the page key makes the repeat
recognisable (the e-mail ``Message-ID`` is derived from it); Twilio, Aliyun and Tencent Cloud
accept no idempotency key for a message or call, so there the person gets it twice.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.escalation.pages import StoredPage
from bot.escalation.wording import Wording
from bot.incidents.repository import IncidentRepository
from bot.incidents.status import Status
from bot.links import LinkSigner
from bot.metrics import Metrics
from bot.paging import failover
from bot.paging.chains import Chains
from bot.paging.receipts import Receipts
from bot.ports import Page, Provider
from bot.prefs import get_language, user_scope
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import pages

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=60)
BATCH = 20
CONCURRENCY = 10
"""Pages one replica sends at the same time."""
SEND_TIMEOUT = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    reason: str = ""
    provider: str = ""
    provider_ref: str = ""
    retry_at: datetime | None = None
    position: int = 0
    """The provider's position in the page's order."""
    failed_send: bool = False
    """A failed attempt to keep as a send (one moving on, or the last)."""
    next_position: bool = False
    """Hand the page to the next provider."""
    confirm_by: datetime | None = None
    has_next: bool = False


@dataclass(slots=True)
class Claim:
    """This replica's hold on one page. A lease's end is the fencing token: normally the one
    last written, plus those of renewals whose commit went unanswered (the row may hold any)."""

    page: int
    tokens: list[datetime]

    def held(self) -> Any:
        """The condition that the page is still ours."""
        return and_(
            pages.c.id == self.page,
            pages.c.status == "sending",
            pages.c.claimed_until.in_(self.tokens),
        )


class PageSender:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        chains: Chains,
        signer: LinkSigner,
        metrics: Metrics,
        *,
        lease: timedelta = LEASE,
        send_timeout: timedelta = SEND_TIMEOUT,
    ) -> None:
        self.settings, self.db, self.clock = settings, db, clock
        self.incidents = IncidentRepository(db)
        self.chains, self.signer, self.metrics = chains, signer, metrics
        self.lease, self.send_timeout = lease, send_timeout
        self.users = {u.id: u for u in settings.users}
        self.receipts = Receipts(settings, db, clock, metrics, chains=chains)
        self.wording = Wording(settings, signer)
        self._sending: dict[asyncio.Task[None], str] = {}
        """Sends in flight, with their recipient. They are never cancelled: `idle` waits."""

    async def run_once(self) -> int:
        """Deliver what is due, up to `BATCH` pages, `CONCURRENCY` at a time; returns how many
        pages were handled."""
        if not self.chains:
            return 0
        handled = started = 0
        mine: set[asyncio.Task[None]] = set()
        while True:
            while len(mine) < CONCURRENCY and started < BATCH:
                claimed = await self._claim(busy=set(self._sending.values()))
                if claimed is None:
                    break
                row, claim = claimed
                task = asyncio.get_running_loop().create_task(self._handle(row, claim))
                self._sending[task] = row.recipient
                task.add_done_callback(self._sent)
                mine.add(task)
                started += 1
            if not mine:
                return handled
            done, mine = await asyncio.wait(mine, return_when=asyncio.FIRST_COMPLETED)
            handled += len(done)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("page pass failed", error=repr(task.exception()))

    async def idle(self) -> None:
        """Wait for the sends in flight (a stopping replica leaves no page sent but unrecorded)."""
        while self._sending:
            await asyncio.wait(set(self._sending))

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.pop(task, None)

    def _lease_end(self) -> datetime:
        jitter = timedelta(microseconds=random.randrange(1, 1000))
        return self.clock.now() + self.lease + jitter

    async def _claim(self, busy: set[str]) -> tuple[StoredPage, Claim] | None:
        """Take the next due page (a new one, or one whose lease ran out) alone, skipping the
        people this replica is sending to already (their rate windows are checked per send)."""
        now = self.clock.now()
        due = or_(
            and_(pages.c.status == "pending", pages.c.next_attempt_at <= now),
            and_(pages.c.status == "sending", pages.c.claimed_until <= now),
        )
        if busy:
            due = and_(due, pages.c.recipient.not_in(sorted(busy)))
        stmt = (
            select(pages)
            .where(and_(due, pages.c.channel.in_(list(self.chains))))
            .order_by(pages.c.next_attempt_at)
            .limit(1)
        )
        until = self._lease_end()
        rows = await self.db.claim(pages, stmt, status="sending", claimed_until=until)
        return (StoredPage.of(rows[0]), Claim(rows[0].id, [until])) if rows else None

    async def _renew(self, claim: Claim) -> bool:
        """Move the lease on if the page is still ours; False when another replica has it."""
        until = self._lease_end()
        held = claim.held()
        claim.tokens.append(until)  # kept if the outcome of the commit is unknown
        async with self.db.begin() as conn:
            result = await conn.execute(update(pages).where(held).values(claimed_until=until))
        if result.rowcount == 0:
            claim.tokens.pop()
            return False
        claim.tokens = [until]
        return True

    async def _heartbeat(self, claim: Claim, done: asyncio.Event) -> None:
        """Renew the lease every third of it until `done`, or until the claim is lost."""
        interval = self.lease.total_seconds() / 3
        while True:
            try:
                await asyncio.wait_for(done.wait(), interval)
                return
            except TimeoutError:
                pass
            try:
                if not await self._renew(claim):
                    log.warning("page claim lost while sending", page=claim.page)
                    return
            except Exception as exc:  # the next beat tries again while the lease lasts
                log.warning("page lease not renewed", page=claim.page, error=str(exc))

    async def _handle(self, row: StoredPage, claim: Claim) -> None:
        now = self.clock.now()
        async with self.db.connect() as conn:
            found = await self.incidents.by_ids(conn, [row.incident_id])
            incident = found.get(row.incident_id)
            free_at = await self._rate_free_at(conn, row, now)
            chosen = await get_language(conn, user_scope(row.recipient))
        if incident is None or incident.status != Status.TRIGGERED:
            who = incident.acked_by or incident.resolved_by if incident is not None else ""
            state = "gone" if incident is None else str(incident.status)
            return await self._record(
                row, claim, Outcome("cancelled", f"{state} {who}".strip()), now
            )
        if free_at is not None:
            return await self._record(
                row, claim, Outcome("pending", "throttled", retry_at=free_at), now
            )
        chain = failover.providers_for(self.chains, self.users, row)
        if row.provider_pos >= len(chain):
            reason = (
                f"no {row.channel} provider takes {row.address}"
                if not chain
                else f"no {row.channel} provider left"
            )
            return await self._record(row, claim, Outcome("failed", reason), now)
        provider = chain[row.provider_pos]
        has_next = row.provider_pos + 1 < len(chain)
        page = self.wording.page(row, incident, now, chosen)
        if not await self._renew(claim):
            log.warning("page claim lost before sending", page=row.id)
            return
        done = asyncio.Event()
        beat = asyncio.create_task(self._heartbeat(claim, done))
        try:
            outcome = await self._send(row, page, provider, has_next, now)
        finally:  # also when this task is cancelled: a dead sender holds no lease
            done.set()
            await beat
        await self._record(row, claim, outcome, self.clock.now())

    async def _send(
        self, row: StoredPage, page: Page, provider: Provider, has_next: bool, now: datetime
    ) -> Outcome:
        """Send through `provider`; a failure moves on to the next one when there is one."""
        name, at = provider.name, row.provider_pos
        try:
            async with asyncio.timeout(self.send_timeout.total_seconds()):
                receipt = await provider.notifier.send(page)
        except RetryableDelivery as exc:
            return self._retry(row, str(exc), exc.retry_after, now, name, has_next)
        except PermanentDelivery as exc:
            if has_next:
                return self._retry(row, str(exc), None, now, name, has_next)
            return Outcome("failed", str(exc)[:256], name, position=at, failed_send=True)
        except TimeoutError:
            log.warning("page send timed out", page=row.id, channel=row.channel, provider=name)
            return self._retry(row, "provider timeout", None, now, name, has_next)
        except Exception as exc:  # a provider bug must not stop the pass
            log.exception("page send failed", page=row.id, channel=row.channel, provider=name)
            return self._retry(row, type(exc).__name__, None, now, name, has_next)
        confirm_by = None
        if provider.confirm_within is not None and has_next:
            confirm_by = self.clock.now() + provider.confirm_within
        return Outcome(
            "sent",
            "",
            name,
            receipt.message_id[:128],
            position=at,
            confirm_by=confirm_by,
            has_next=has_next,
        )

    def _retry(
        self,
        row: StoredPage,
        reason: str,
        after: float | None,
        now: datetime,
        provider: str,
        has_next: bool = False,
    ) -> Outcome:
        at = row.provider_pos
        if has_next:  # the next provider, at once
            return Outcome(
                "pending",
                reason[:256],
                provider,
                retry_at=now,
                position=at,
                failed_send=True,
                next_position=True,
            )
        if row.attempts + 1 >= self.settings.paging.max_attempts:
            return Outcome("failed", reason[:256], provider, position=at, failed_send=True)
        backoff = after if after is not None else min(2 ** (row.attempts + 1), 300)
        jitter = random.uniform(0, backoff / 10)
        return Outcome(
            "pending",
            reason[:256],
            provider,
            retry_at=now + timedelta(seconds=backoff + jitter),
            position=at,
        )

    async def _rate_free_at(
        self, conn: AsyncConnection, row: StoredPage, now: datetime
    ) -> datetime | None:
        """When the person's channel has room again, or None if it has room now."""
        latest: datetime | None = None
        for window in self.settings.paging.rate_limits.get(row.channel, ()):
            since = now - window.per
            stmt = (
                select(pages.c.sent_at)
                .where(
                    and_(
                        pages.c.recipient == row.recipient,
                        pages.c.channel == row.channel,
                        pages.c.status == "sent",
                        pages.c.sent_at > since,
                    )
                )
                .order_by(pages.c.sent_at.desc())
                .limit(window.count)
            )
            sent = [r.sent_at for r in await conn.execute(stmt)]
            if len(sent) >= window.count:
                free = sent[-1] + window.per
                latest = free if latest is None else max(latest, free)
        return latest

    async def _record(self, row: StoredPage, claim: Claim, outcome: Outcome, now: datetime) -> None:
        """Write what happened, if the claim is still ours: a replica that stalled past its
        lease finds the page taken over and records nothing. A send is kept in `page_sends`
        with the page, and reports that came before it are applied in the same transaction."""
        values: dict[str, Any] = {
            "status": outcome.status,
            "reason": outcome.reason,
            "claimed_until": None,
        }
        if outcome.provider:
            values["provider"] = outcome.provider
        if outcome.status == "sent":
            values.update(
                provider_ref=outcome.provider_ref,
                sent_at=now,
                delivery="",
                delivered_at=None,
                confirm_by=outcome.confirm_by,
            )
        if outcome.status in ("sent", "failed") or outcome.reason not in ("throttled", ""):
            values["attempts"] = pages.c.attempts + 1
        if outcome.retry_at is not None:
            values["next_attempt_at"] = outcome.retry_at
        if outcome.next_position:
            values["provider_pos"] = pages.c.provider_pos + 1
        async with self.db.begin() as conn:
            result = await conn.execute(update(pages).where(claim.held()).values(**values))
            if result.rowcount == 0:
                log.warning("page claim lost to another replica", page=row.id)
                return
            if outcome.status == "sent" or outcome.failed_send:
                await self._keep_send(conn, row, outcome, now)
            if outcome.status == "failed":
                await failover.escalate_undelivered(conn, row, "failed", now)
            if outcome.status in ("sent", "failed") or outcome.next_position:
                await failover.show(conn, row.incident_id, now)
        self.metrics.pages.labels(row.channel, outcome.status).inc()
        if outcome.status == "failed":
            log.warning("page failed", page=row.id, channel=row.channel, reason=outcome.reason)
        elif outcome.next_position:
            log.warning(
                "page moves to the next provider",
                page=row.id,
                provider=outcome.provider,
                reason=outcome.reason,
            )

    async def _keep_send(
        self, conn: AsyncConnection, row: StoredPage, outcome: Outcome, now: datetime
    ) -> None:
        sent = outcome.status == "sent"
        ref = outcome.provider_ref if sent else ""
        await failover.add_send(
            conn,
            row,
            outcome.provider,
            outcome.position,
            ref,
            "sent" if sent else "failed",
            outcome.reason,
            now,
        )
        if sent and ref:
            await self.receipts.catch_up(conn, outcome.provider, ref, now)
