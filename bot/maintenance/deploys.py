"""The maintenance window a deploy or rollback opens while it runs (`maintenance.deploys`).

A rollout makes noise: pods restart, error rates blip, probes fail for a minute. Alerts of the
service and environment then still open incidents and cards, which say "during deploy of v1.4.2
by alice", but page nobody below the tiers that always page; the health gate judges the release
all the same, since it reads metrics, not pages.

The window follows the run, and is written in the transaction that moves the run, so no crash
leaves a running deploy without its window or a window without its run:

- the run starts running (`Runner._begin`): a window from now; the partial unique index on
  ``run_id`` makes it one per run, whichever replica gets there;
- the run ends, however it ends (`Runner._end`): the window ends `grace` after that.

While the run runs, the window's ``ends_at`` is already set, to the latest the run may still be
running (``deploy.run_timeout``, after which the engine cancels it) plus the grace: a run that
nobody can poll any more (a backend gone silent, every replica down) does not keep its service
out of paging for ever. A window is therefore never open-ended. A dry run changes nothing and
opens none; a run that never started (refused, lapsed, cancelled while waiting) opened none, so
its end finds none to close.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.deploys.ops import ENDED, RUNNING
from bot.deploys.run import Run
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import maintenance_windows

KIND = "deploy"


async def follow(
    conn: AsyncConnection, db: Database, settings: Settings, run: Run, now: datetime
) -> None:
    """The window of `run` after the run moved (in the same transaction): opened when it has just
    started running, ended `grace` from now when it has just ended; else nothing."""
    if run.state == RUNNING:
        await _open(conn, db, settings, run, now)
    elif run.state in ENDED:
        await _close(conn, settings, run, now)


def covers(settings: Settings, run: Run) -> bool:
    """Whether `run` opens a window: the setting is on, the service is listed (or none is), and
    it changes something (not a dry run)."""
    windows = settings.maintenance.deploys
    listed = not windows.services or run.service in windows.services
    return windows.enabled and listed and not run.dry_run


async def _open(
    conn: AsyncConnection, db: Database, settings: Settings, run: Run, now: datetime
) -> None:
    if not covers(settings, run):
        return
    cap = now + settings.deploy.run_timeout + settings.maintenance.deploys.grace
    stmt = (
        db.insert(maintenance_windows)
        .values(
            kind=KIND,
            name="",
            service=run.service,
            environment=run.environment,
            reason=run.action,
            created_by=run.requested_by,
            run_id=run.id,
            version=run.version,
            starts_at=now,
            ends_at=cap,
            created_at=now,
        )
        .on_conflict_do_nothing()
    )
    await conn.execute(stmt)


async def _close(conn: AsyncConnection, settings: Settings, run: Run, now: datetime) -> None:
    """End the run's window `grace` from now; one ended by hand (``/maint end``) stays ended.
    This holds even if the setting was turned off meanwhile: the window it opened still ends."""
    grace = settings.maintenance.deploys.grace
    await conn.execute(
        update(maintenance_windows)
        .where(
            maintenance_windows.c.run_id == run.id,
            maintenance_windows.c.kind == KIND,
            maintenance_windows.c.ended_at.is_(None),
        )
        .values(ends_at=now + grace)
    )


__all__ = ["KIND", "covers", "follow"]
