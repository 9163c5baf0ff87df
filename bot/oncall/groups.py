"""Chat groups that follow a rotation (`schedules.*.chat_groups`), as an engine pass.

Each round `GroupSync.run` works out who is on call in each schedule (the timeline with its
overrides, so swaps and overrides count too) and writes it as the `wanted` members of each of
the schedule's groups. A row whose wanted members changed, or whose last try failed and is due
again, is claimed by one replica (a lease in `claimed_until`, taken with ``SKIP LOCKED``) and
applied outside any transaction:

- a Slack user group (``usergroups.users.update``) or a Feishu/Lark chat's members, through the
  platform's `GroupMembers` capability;
- a DingTalk or WeCom group: nothing to call; the people recorded become the ones the cards
  posted in that chat @-mention (`bot.oncall.groups_state.group_mentions`).

The result is written back under a row lock: if the wanted members changed meanwhile, the row
goes again at once. A failure is retried with back-off and shown on /readyz until it clears; a
person on call without an identity on the platform is reported there and in the schedule's
announce chats, never dropped silently. A replica killed during a call loses nothing: its lease
runs out and another replica applies the row again (setting members is idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import RetryableDelivery
from bot.oncall import on_call
from bot.oncall.groups_state import (
    FAILED,
    MEMBERS_SET,
    MISSING,
    OK,
    PENDING,
    backoff,
    identity_key,
    targets,
)
from bot.oncall.store import active_overrides
from bot.ports.chat import ChatPlatform, GroupMembers
from bot.services import Services
from bot.store.tables import group_sync

log = structlog.get_logger(__name__)

LEASE = timedelta(minutes=2)
"""How long a claimed row is one replica's: far above a platform call's timeout."""
BATCH = 20


@dataclass(frozen=True, slots=True)
class Outcome:
    """What applying one row came to."""

    applied: list[str] | None  # None: the platform was not changed
    error: str = ""
    retry_after: float | None = None
    missing: tuple[str, ...] = ()


class GroupSync:
    def __init__(
        self, services: Services, platforms: Mapping[str, ChatPlatform] | None = None
    ) -> None:
        self.s = services
        self.platforms: Mapping[str, ChatPlatform] = platforms or {}
        self.identities: dict[str, dict[str, str]] = {
            u.id: dict(u.identities) for u in services.settings.users
        }

    async def run(self, now: datetime) -> None:
        """Bring each group in step with who is on call; retry those that failed."""
        wanted = targets(self.s.settings.schedules)
        if not wanted:
            return
        await self._refresh(list(wanted), now)
        for row in await self._claim(now):
            outcome = await self._apply(row)
            await self._finish(row, outcome)

    # -- wanted members ---------------------------------------------------------------------------

    async def _refresh(self, keys: list[tuple[str, str]], now: datetime) -> None:
        """Write who should be in each group; a change makes the row due at once. Rows are
        locked while compared, so two replicas never both mark one change."""
        db = self.s.db
        async with db.connect() as conn:  # most rounds change nothing: read without locks
            overrides = await active_overrides(conn, now)
            found = await conn.execute(
                select(group_sync.c.schedule, group_sync.c.target, group_sync.c.wanted)
            )
            current = {(r.schedule, r.target): list(r.wanted or []) for r in found}
        members: dict[str, list[str]] = {}
        for name in {schedule for schedule, _ in keys}:
            segment = on_call(self.s.settings.schedules[name], now, overrides.get(name, []))
            members[name] = [segment.user] if segment is not None and segment.user else []
        if set(current) == set(keys) and all(current[k] == members[k[0]] for k in keys):
            return
        async with db.begin() as conn:
            await conn.execute(
                db.insert(group_sync)
                .values(
                    [
                        {
                            "schedule": name,
                            "target": target,
                            "wanted": members[name],
                            "applied": None,
                            "status": PENDING,
                            "attempts": 0,
                            "next_attempt_at": now,
                            "last_error": "",
                            "updated_at": now,
                        }
                        for name, target in keys
                    ]
                )
                .on_conflict_do_nothing()
            )
            stmt = select(group_sync).order_by(group_sync.c.schedule, group_sync.c.target)
            for row in (await conn.execute(db.for_update(stmt))).all():
                key = (row.schedule, row.target)
                if key not in keys:  # no longer configured
                    await conn.execute(delete(group_sync).where(_is(row)))
                elif list(row.wanted or []) != members[row.schedule]:
                    values: dict[str, Any] = {"wanted": members[row.schedule]}
                    values["next_attempt_at"] = now
                    if row.status != FAILED:  # a failure keeps its start for /readyz
                        values.update(status=PENDING, attempts=0, updated_at=now)
                    await conn.execute(update(group_sync).where(_is(row)).values(**values))

    async def _claim(self, now: datetime) -> list[Any]:
        c = group_sync.c
        stmt = (
            select(group_sync)
            .where(
                c.status.in_([PENDING, FAILED]),
                or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now),
                or_(c.claimed_until.is_(None), c.claimed_until <= now),
            )
            .order_by(c.next_attempt_at)
            .limit(BATCH)
        )
        async with self.s.db.begin() as conn:
            rows = list((await conn.execute(self.s.db.for_update(stmt, skip_locked=True))).all())
            for row in rows:
                await conn.execute(
                    update(group_sync).where(_is(row)).values(claimed_until=now + LEASE)
                )
        return rows

    # -- applying ---------------------------------------------------------------------------------

    async def _apply(self, row: Any) -> Outcome:
        """Set the group's members (Slack, Feishu) or record its mentions (DingTalk, WeCom)."""
        key = identity_key(row.target)
        wanted = [str(u) for u in row.wanted or []]
        ids = [self.identities.get(u, {}).get(key, "") for u in wanted]
        missing = tuple(u for u, pid in zip(wanted, ids, strict=True) if not pid)
        present = [pid for pid in ids if pid]
        platform_name, _, group = row.target.partition(":")
        if key not in MEMBERS_SET:
            return Outcome(present, missing=missing)
        platform = self.platforms.get(platform_name)
        if not isinstance(platform, GroupMembers):
            return Outcome(None, f"no {platform_name} chat platform to set members through")
        before = [str(p) for p in row.applied or []]
        try:
            applied = await platform.set_group_members(group, present, before)
        except Exception as exc:  # per-row isolation: one group's trouble stays with it
            retry_after = exc.retry_after if isinstance(exc, RetryableDelivery) else None
            log.warning("chat group not updated", target=row.target, error=str(exc))
            return Outcome(None, _reason(exc), retry_after)
        refused = [pid for pid in present if pid not in applied]
        if refused:
            return Outcome(applied, f"{platform_name} refused {', '.join(refused)}")
        return Outcome(applied, missing=missing)

    async def _finish(self, claimed: Any, outcome: Outcome) -> None:
        now = self.s.clock.now()
        async with self.s.db.begin() as conn:
            stmt = self.s.db.for_update(select(group_sync).where(_is(claimed)))
            row = (await conn.execute(stmt)).first()
            if row is None:
                return  # the schedule's groups changed in the settings meanwhile
            values: dict[str, Any] = {"claimed_until": None}
            if outcome.applied is not None:
                values["applied"] = outcome.applied
            if outcome.error:
                attempts = row.attempts + 1
                values.update(
                    status=FAILED,
                    attempts=attempts,
                    next_attempt_at=now + backoff(attempts, outcome.retry_after),
                    last_error=outcome.error[:512],
                )
            elif list(row.wanted or []) != list(claimed.wanted or []):
                values.update(next_attempt_at=now)  # who is on call changed meanwhile: again
            elif outcome.missing:
                error = f"no {identity_key(row.target)} identity for {', '.join(outcome.missing)}"
                values.update(status=MISSING, attempts=0, next_attempt_at=None, last_error=error)
            else:
                values.update(status=OK, attempts=0, next_attempt_at=None, last_error="")
            status = values.get("status", row.status)
            if status != row.status:
                values["updated_at"] = now
                error = str(values.get("last_error", ""))
                await self._tell(conn, row, status, error, ", ".join(outcome.missing), now)
            await conn.execute(update(group_sync).where(_is(row)).values(**values))

    async def _tell(
        self,
        conn: AsyncConnection,
        row: Any,
        status: str,
        error: str,
        people: str,
        now: datetime,
    ) -> None:
        """Say it once in the schedule's announce chats when a group starts failing, lacks
        someone, or recovers (with the row's change, so exactly once)."""
        schedule = self.s.settings.schedules.get(row.schedule)
        if schedule is None or not schedule.announce:
            return
        if status == FAILED:
            key = "groups.failed"
        elif status == MISSING:
            key = "groups.missing"
        elif status == OK and row.status in (FAILED, MISSING):
            key = "groups.recovered"
        else:
            return
        params = {
            "schedule": row.schedule,
            "group": row.target,
            "error": error,
            "people": people,
            "platform": identity_key(row.target),
        }
        await self.s.outbox.text(conn, [str(d) for d in schedule.announce], key, params, now=now)


def _is(row: Any) -> Any:
    return and_(group_sync.c.schedule == row.schedule, group_sync.c.target == row.target)


def _reason(exc: BaseException) -> str:
    """A failure as /readyz shows it: Slack's or Feishu's own error words, not a trace."""
    return str(exc) or type(exc).__name__


__all__: Sequence[str] = ("GroupSync",)
