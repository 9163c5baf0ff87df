"""Where chat groups that follow a rotation live: the `group_sync` rows and what reads them.

A row per (schedule, target) holds the Tocsin users who should be in the group (`wanted`), the
platform ids the sync last put there (`applied`), and the retry state. `target` is the group as
a destination-like string (``slack:S0123``, ``feishu:oc_…``, ``dingtalk:cid…``,
``dingtalk-robot:ops``, ``wecom-robot:ops``), so the outbox can find the on-call people to
@-mention in a chat by the chat's own destination.

Statuses: ``pending`` (to apply), ``ok``, ``failed`` (retried with back-off; `updated_at` is when
the failure began), ``missing`` (applied, but someone on call has no identity on the platform:
a settings change, not a retry, mends it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.settings.oncall import Schedule
from bot.store.tables import group_sync

PENDING, OK, FAILED, MISSING = "pending", "ok", "failed", "missing"
MEMBERS_SET = frozenset({"slack", "feishu"})
"""Platforms whose group membership is set through the platform (`GroupMembers`)."""
MENTIONING = frozenset({"dingtalk", "dingtalk-robot", "wecom-robot"})
"""Destinations whose cards @-mention the on-call people of the groups they are."""
IDENTITY_OF = {"dingtalk-robot": "dingtalk", "wecom-robot": "wecom"}
"""The `users[].identities` key of a target's platform, where it is not the platform itself."""
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=30)


def target_of(platform: str, group: str) -> str:
    """The target a `schedules.*.chat_groups` entry names. A DingTalk group is the app
    robot's conversation (``cid…``) unless given as ``dingtalk-robot:<name>``; a WeCom group
    is reached through a group robot, by its name (``ops`` or ``wecom-robot:ops``)."""
    group = group.strip()
    if platform == "dingtalk" and group.startswith("dingtalk-robot:"):
        return group
    if platform == "wecom":
        return group if group.startswith("wecom-robot:") else f"wecom-robot:{group}"
    return f"{platform}:{group}"


def identity_key(target: str) -> str:
    platform = target.partition(":")[0]
    return IDENTITY_OF.get(platform, platform)


def targets(schedules: Mapping[str, Schedule]) -> dict[tuple[str, str], None]:
    """Every (schedule, target) the settings ask for, in a stable order."""
    found: dict[tuple[str, str], None] = {}
    for name, schedule in sorted(schedules.items()):
        for platform, group in sorted(schedule.chat_groups.items()):
            found[(name, target_of(platform, group))] = None
    return found


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """30 s, 1 min, 2 min… up to 30 min, or longer when the platform asked for it."""
    delay: timedelta = min(BASE_BACKOFF * 2 ** min(max(attempts - 1, 0), 16), MAX_BACKOFF)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


async def group_mentions(conn: AsyncConnection, destination: str) -> tuple[str, ...]:
    """The platform ids to @-mention in a card posted to `destination`: the on-call people of
    every group that chat is (several schedules may share one chat)."""
    rows = await conn.execute(
        select(group_sync.c.applied)
        .where(group_sync.c.target == destination)
        .order_by(group_sync.c.schedule)
    )
    seen: dict[str, None] = {}
    for (applied,) in rows:
        for who in applied or ():
            seen[str(who)] = None
    return tuple(seen)


async def group_problems(conn: AsyncConnection) -> dict[str, str]:
    """What /readyz shows: each group that failed or lacks someone, as
    ``{"primary slack:S0123": "failed: permission_denied since 2026-…"}``."""
    rows = await conn.execute(
        select(group_sync)
        .where(group_sync.c.status.in_([FAILED, MISSING]))
        .order_by(group_sync.c.schedule, group_sync.c.target)
    )
    problems: dict[str, str] = {}
    for row in rows:
        since = _iso(row.updated_at)
        problems[f"{row.schedule} {row.target}"] = f"{row.status}: {row.last_error} since {since}"
    return problems


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
