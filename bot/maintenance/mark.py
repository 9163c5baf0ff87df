"""The "Maintenance" line of an incident card: which window the incident met, in the reader's
words and zone ("weekly database maintenance, until 04:00 (by configuration)", "during deploy
of v1.4.2 by alice, while it rolls out (by 14:05 at the latest)", "/maint by bob: upgrading
the database, until 14:00")."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.i18n import t
from bot.incidents.times import clock
from bot.maintenance.windows import DEPLOY, RECURRING, Window
from bot.store.tables import incidents, maintenance_windows, runs


def mark(window: Window, now: datetime, lang: str, tz: str) -> str:
    until = window.until
    if until is None:
        when = t("maint.when.open", lang)
    elif window.rolling_out and window.ended_at is None and now < until:
        when = t("maint.when.rollout", lang, until=clock(until, now, tz, lang))
    else:
        key = "maint.when.until" if now < until else "maint.when.ended"
        when = t(key, lang, until=clock(until, now, tz, lang))
    if window.kind == RECURRING:
        return t("maint.mark.recurring", lang, reason=window.reason or window.name, when=when)
    if window.kind == DEPLOY:
        key = "maint.mark.rollback" if window.reason == "rollback" else "maint.mark.deploy"
        return t(key, lang, version=window.version or "?", by=window.created_by, when=when)
    reason = window.reason or t("maint.no_reason", lang)
    return t("maint.mark.manual", lang, by=window.created_by, reason=reason, when=when)


async def marked(conn: AsyncConnection, incident_id: int) -> Window | None:
    """The window incident `incident_id` is marked with, if any, and for a deploy window
    whether its run still rolls out (one query)."""
    w = maintenance_windows
    rolling = and_(runs.c.id.is_not(None), runs.c.finished_at.is_(None))
    row = (
        await conn.execute(
            select(w, rolling.label("rolling_out"))
            .select_from(
                incidents.join(w, w.c.id == incidents.c.maintenance_id).outerjoin(
                    runs, runs.c.id == w.c.run_id
                )
            )
            .where(incidents.c.id == incident_id)
        )
    ).first()
    if row is None:
        return None
    return replace(Window.of(row), rolling_out=bool(row.rolling_out))
