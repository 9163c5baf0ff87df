"""The silence pass: makes the silences asked for real in Alertmanager, and expires those
taken back.

A pass takes one due row at a time (``FOR UPDATE SKIP LOCKED``) and leases it: its `due_at`
moves past the call (the lease's end, with a random sub-millisecond offset, is also the
claim's fencing token) and `attempts` counts the try, all committed before Alertmanager is
called, so no transaction stays open across the call and another replica skips the row. The
answer is written only where the token still matches.

Exactly one silence per row, whatever crashes:

- a replica that dies after Alertmanager created the silence but before recording it leaves
  a lease that runs out; the next try (`attempts` > 0) first looks for a silence with the
  row's comment, matchers and end among Alertmanager's, and adopts it rather than make
  another;
- a row taken back (Unsilence, a new silence) while its silence was being created is found
  changed when the answer comes: the new id is written on it and it is expired in turn.

Alertmanager unreachable: the row stays as it is, tried again after a back-off (5 s doubling
to 5 min, or the `Retry-After` asked for), and the source's other due rows wait as long, so
one dead Alertmanager costs one call per back-off, not one per row. A refusal is final
(`failed`, with its reason on the card). Rows past their end need no call: Alertmanager ends
the silence at the same time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, delete, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.incidents.repository import redraw_soon
from bot.ports.silences import SilenceAPI, SilenceMatcher, UpstreamSilence
from bot.silences.rows import ACTIVE, ALERTMANAGER, DUE, EXPIRED, EXPIRING, FAILED, PENDING
from bot.store.db import Database
from bot.store.tables import am_silences, incidents

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=60)
CALL_TIMEOUT = timedelta(seconds=20)
"""A call (a look-up and a create at most) cut short, well inside the lease."""
BATCH = 20
FIRST_BACKOFF, MAX_BACKOFF = timedelta(seconds=5), timedelta(minutes=5)
ERROR_CHARS = 300
LAPSE_EVERY = timedelta(seconds=30)
"""How often a replica ends the rows past their end (only what the card shows waits on it)."""
SAME_END = timedelta(seconds=1)
"""How far Alertmanager's end of a silence may be from the row's and still be the same."""


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """The wait before try `attempts` + 1: 5 s, doubling, at most 5 min; longer when asked."""
    wait = min(FIRST_BACKOFF * (1 << min(max(attempts - 1, 0), 16)), MAX_BACKOFF)
    if retry_after:
        wait = max(wait, min(timedelta(seconds=retry_after), MAX_BACKOFF))
    return wait


class SilencePush:
    """`apis`: the Alertmanager APIs by source name (`sources[].name`)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        apis: Mapping[str, SilenceAPI],
        *,
        lease: timedelta = LEASE,
        batch: int = BATCH,
    ) -> None:
        self.db, self.clock, self.apis = db, clock, dict(apis)
        self.lease, self.batch = lease, batch
        self._lapsed: datetime | None = None

    async def run_once(self, now: datetime | None = None) -> int:
        """End the rows past their end (every `LAPSE_EVERY`), then call Alertmanager for up to
        `batch` due rows; returns how many were tried."""
        now = now or self.clock.now()
        if self._lapsed is None or now - self._lapsed >= LAPSE_EVERY:
            await self._lapse(now)
            self._lapsed = now
        if not self.apis:
            return 0
        tried, unreachable = 0, set[str]()
        while tried < self.batch:
            claimed = await self._claim(unreachable)
            if claimed is None:
                return tried
            row, token = claimed
            tried += 1
            if not await self._handle(row, token):
                unreachable.add(row.source)
        return tried

    async def _lapse(self, now: datetime) -> None:
        """Silences past their end ended in Alertmanager by themselves: nothing left to make
        or expire (those in a replica's hands right now are left to it). So do those of a
        source whose API was taken out of the configuration: nothing can make or expire them
        any more (Tocsin's own silence holds as before)."""
        row = am_silences.c
        gone: ColumnElement[bool] = row.source.not_in(list(self.apis)) if self.apis else true()
        async with self.db.begin() as conn:
            await conn.execute(
                update(am_silences)
                .where(
                    and_(
                        row.state.in_((PENDING, ACTIVE, EXPIRING)),
                        or_(row.ends_at <= now, and_(gone, row.state != ACTIVE)),
                        or_(row.due_at.is_(None), row.due_at <= now),
                    )
                )
                .values(state=EXPIRED, due_at=None, updated_at=now)
            )

    def _lease_end(self) -> datetime:
        jitter = timedelta(microseconds=random.randrange(1, 1000))
        return self.clock.now() + self.lease + jitter

    async def _claim(self, skip: set[str]) -> tuple[Any, datetime] | None:
        row = am_silences.c
        sources = [name for name in self.apis if name not in skip]
        if not sources:
            return None
        stmt = (
            select(am_silences)
            .where(
                and_(
                    row.state.in_(DUE),
                    row.due_at <= self.clock.now(),
                    row.source.in_(sources),
                )
            )
            .order_by(row.due_at)
            .limit(1)
        )
        token = self._lease_end()
        rows = await self.db.claim(am_silences, stmt, due_at=token, attempts=row.attempts + 1)
        return (rows[0], token) if rows else None

    async def _handle(self, row: Any, token: datetime) -> bool:
        """Call Alertmanager for `row` and record the answer; False when it was unreachable."""
        api = self.apis[row.source]
        try:
            async with asyncio.timeout(CALL_TIMEOUT.total_seconds()):
                if row.state == PENDING:
                    silence_id = await self._create(api, row)
                else:
                    await self._expire(api, row)
        except PermanentDelivery as exc:
            await self._failed(row, token, str(exc))
        except (RetryableDelivery, TimeoutError, OSError) as exc:
            retry_after = exc.retry_after if isinstance(exc, RetryableDelivery) else None
            await self._retry(row, token, _reason(exc), retry_after)
            return False
        except Exception as exc:  # one row's surprise must not stop the others
            log.exception("silence call failed", silence=row.id, source=row.source)
            await self._retry(row, token, _reason(exc), None)
        else:
            if row.state == PENDING:
                await self._created(api, row, token, silence_id)
            else:
                await self._expired(row, token)
        return True

    async def _create(self, api: SilenceAPI, row: Any) -> str:
        matchers = _matchers(row)
        if row.attempts > 0:  # an earlier try may have created it without recording it
            made = await _same(api, row, matchers)
            if made:
                return made[0].id
        now = self.clock.now()
        return await api.create(
            matchers, max(row.starts_at, now), row.ends_at, row.created_by, row.comment
        )

    async def _expire(self, api: SilenceAPI, row: Any) -> None:
        if row.silence_id:
            await api.expire(row.silence_id)
            return
        for silence in await _same(api, row, _matchers(row)):  # a create that went unrecorded
            await api.expire(silence.id)

    async def _created(self, api: SilenceAPI, row: Any, token: datetime, silence_id: str) -> None:
        now = self.clock.now()
        c = am_silences.c
        async with self.db.begin() as conn:
            # the poll may have met it first and taken it for one made in Alertmanager
            await conn.execute(
                delete(am_silences).where(
                    and_(
                        c.source == row.source,
                        c.silence_id == silence_id,
                        c.incident_id == row.incident_id,
                        c.origin == ALERTMANAGER,
                    )
                )
            )
            done = await conn.execute(
                update(am_silences)
                .where(and_(c.id == row.id, c.state == PENDING, c.due_at == token))
                .values(
                    silence_id=silence_id, state=ACTIVE, due_at=None, last_error="", updated_at=now
                )
            )
            if done.rowcount:
                await _show(conn, row.incident_id, now)
                return
            # taken back meanwhile: what was just made is to be expired as well
            taken_back = await conn.execute(
                update(am_silences)
                .where(
                    and_(c.id == row.id, c.silence_id.is_(None), c.state.in_((EXPIRING, EXPIRED)))
                )
                .values(silence_id=silence_id, state=EXPIRING, due_at=now, updated_at=now)
            )
            if taken_back.rowcount:
                return
            held = (
                await conn.execute(select(c.silence_id).where(c.id == row.id))
            ).scalar_one_or_none()
        if held != silence_id:  # another replica took the row over and made its own
            log.warning("silence made twice; expiring the extra", silence=row.id)
            try:
                await api.expire(silence_id)
            except Exception as exc:
                log.warning("extra silence not expired", silence=row.id, error=_reason(exc))

    async def _expired(self, row: Any, token: datetime) -> None:
        c = am_silences.c
        async with self.db.begin() as conn:
            await conn.execute(
                update(am_silences)
                .where(and_(c.id == row.id, c.state == EXPIRING, c.due_at == token))
                .values(state=EXPIRED, due_at=None, last_error="", updated_at=self.clock.now())
            )

    async def _retry(
        self, row: Any, token: datetime, error: str, retry_after: float | None
    ) -> None:
        """Try again after a back-off; the source's other due rows wait as long."""
        now = self.clock.now()
        later = now + backoff(row.attempts + 1, retry_after)
        c = am_silences.c
        async with self.db.begin() as conn:
            retried = await conn.execute(
                update(am_silences)
                .where(and_(c.id == row.id, c.due_at == token))
                .values(due_at=later, last_error=error[:ERROR_CHARS], updated_at=now)
            )
            if retried.rowcount and not row.last_error:  # the card says why from now on
                await _show(conn, row.incident_id, now)
            await conn.execute(
                update(am_silences)
                .where(and_(c.source == row.source, c.state.in_(DUE), c.due_at <= now))
                .values(due_at=later)
            )

    async def _failed(self, row: Any, token: datetime, error: str) -> None:
        c = am_silences.c
        now = self.clock.now()
        async with self.db.begin() as conn:
            failed = await conn.execute(
                update(am_silences)
                .where(and_(c.id == row.id, c.due_at == token))
                .values(state=FAILED, due_at=None, last_error=error[:ERROR_CHARS], updated_at=now)
            )
            if failed.rowcount:
                await _show(conn, row.incident_id, now)


async def _show(conn: AsyncConnection, incident_id: int, now: datetime) -> None:
    """Have the card of a silenced incident redrawn with what Alertmanager now holds."""
    await redraw_soon(conn, incident_id, now, incidents.c.silenced_until.is_not(None))


def _matchers(row: Any) -> tuple[SilenceMatcher, ...]:
    return tuple(SilenceMatcher.from_json(m) for m in row.matchers)


async def _same(
    api: SilenceAPI, row: Any, matchers: tuple[SilenceMatcher, ...]
) -> list[UpstreamSilence]:
    """Alertmanager's live silences that are this row's: same comment, matchers and end."""
    wanted = set(matchers)
    return [
        s
        for s in await api.silences()
        if s.state != "expired"
        and s.comment == row.comment
        and set(s.matchers) == wanted
        and abs(s.ends_at - row.ends_at) <= SAME_END
    ]


def _reason(exc: BaseException) -> str:
    """A short, one-line reason for the card and the log."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
