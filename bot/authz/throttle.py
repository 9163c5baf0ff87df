"""Sign-in back-off (the console, action links), shared by every replica through the
``sign_in_failures`` table.

A refused sign-in counts against two keys: the client's address and the identity it claimed (the
configured user a hello names, else the address again). Each key has `FREE_FAILURES` free
failures per `WINDOW`; a failure past them, or any failure while the key is still penalised,
blocks the key for `FIRST_BLOCK`, doubling each time up to `MAX_BLOCK`. A key is forgiven
`FORGIVE_AFTER` after its last failure (retention deletes the row a day later).

While a key is blocked its sign-ins are answered 429 with ``Retry-After`` before the token is
looked at, even a right one, and are not written down: a flood costs one read per attempt. Every
refusal is counted in ``tocsin_auth_failures_total{surface}`` (``console``, ``action_link``); a
wrong token is also audited (``<surface>:sign-in``, denied), never with the token itself. Both
surfaces take the same console tokens, so they share the keys: a guesser cannot switch surface to
start afresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select

from bot.audit.log import AuditEntry, append
from bot.clock import Clock
from bot.errors import AuthenticationError
from bot.metrics import Metrics
from bot.store.db import Database
from bot.store.tables import sign_in_failures as table

FREE_FAILURES = 5
WINDOW = timedelta(minutes=1)
FIRST_BLOCK = timedelta(seconds=15)
MAX_BLOCK = timedelta(minutes=15)
FORGIVE_AFTER = timedelta(hours=1)
SURFACE = "console"

log = structlog.stdlib.get_logger(__name__)


class Throttled(AuthenticationError):
    """Too many failed sign-ins from this address or for this identity; try again later."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Attempt:
    """One sign-in: where it comes from, whom it claims to be, and through which route."""

    address: str
    claimed: str | None = None
    via: str = "websocket"

    @property
    def keys(self) -> tuple[str, ...]:
        address = f"address:{self.address}"[:160]
        identity = f"user:{self.claimed}"[:160] if self.claimed else address
        return tuple(sorted({address, identity}))  # one lock order on every replica


def block_for(level: int) -> timedelta:
    """How long the `level`-th back-off of a key lasts."""
    return min(FIRST_BLOCK * (1 << min(max(level - 1, 0), 20)), MAX_BLOCK)


def after_failure(row: Any, now: datetime) -> dict[str, Any]:
    """The new state of a key's row once one more sign-in with it has failed at `now`."""
    level = row.level if now - row.last_failure_at < FORGIVE_AFTER else 0
    window_start, failures = row.window_start, row.window_failures
    if now - window_start >= WINDOW:
        window_start, failures = now, 0
    failures += 1
    blocked_until = row.blocked_until
    if failures > FREE_FAILURES or level > 0:
        level += 1
        blocked_until = now + block_for(level)
    return {
        "window_start": window_start,
        "window_failures": failures,
        "level": level,
        "blocked_until": blocked_until,
        "last_failure_at": now,
    }


class SignInGuard:
    """Refuses sign-ins from blocked keys and records the failures of the others."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        metrics: Metrics | None = None,
        surface: str = SURFACE,
    ) -> None:
        self._db = db
        self._clock = clock
        self._metrics = metrics
        self.surface = surface

    async def check(self, attempt: Attempt) -> None:
        """Raise `Throttled` while any key of `attempt` is blocked."""
        now = self._clock.now()
        query = select(table.c.blocked_until).where(
            table.c.key.in_(attempt.keys), table.c.blocked_until > now
        )
        async with self._db.connect() as conn:
            until = [row.blocked_until for row in await conn.execute(query)]
        if until:
            self._count("throttled")
            raise Throttled(max(1, math.ceil((max(until) - now).total_seconds())))

    async def failed(self, attempt: Attempt, reason: str = "bad_token") -> None:
        """Write down a refused sign-in against its keys, and audit it, in one transaction."""
        now = self._clock.now()
        blocked: datetime | None = None
        async with self._db.begin() as conn:
            for key in attempt.keys:
                await conn.execute(
                    self._db.insert(table)
                    .values(
                        key=key,
                        window_start=now,
                        window_failures=0,
                        level=0,
                        blocked_until=None,
                        last_failure_at=now,
                    )
                    .on_conflict_do_nothing()
                )
                row = (
                    await conn.execute(self._db.for_update(select(table).where(table.c.key == key)))
                ).one()
                state = after_failure(row, now)
                await conn.execute(table.update().where(table.c.key == key).values(**state))
                if state["blocked_until"] is not None and state["blocked_until"] > now:
                    blocked = max(blocked or now, state["blocked_until"])
            detail: dict[str, Any] = {
                "address": attempt.address,
                "reason": reason,
                "via": attempt.via,
            }
            if blocked is not None:
                detail["blocked_for"] = math.ceil((blocked - now).total_seconds())
            entry = AuditEntry(
                actor=attempt.claimed or f"address:{attempt.address}",
                platform=self.surface,
                action=f"{self.surface}:sign-in",
                target=attempt.claimed or "",
                outcome="denied",
                detail=detail,
            )
            await append(self._db, conn, entry, now)
        self._count(reason)
        log.info("console.sign_in_refused", **detail)

    def _count(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.auth_failures.labels(surface=self.surface, reason=reason).inc()
