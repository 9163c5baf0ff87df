"""The "Maintenance" line of an incident card: which window the incident met, in the reader's
words and zone ("weekly database maintenance, until 04:00 (by configuration)", "during deploy
of v1.4.2 by alice, until 14:05", "/maint by bob: upgrading the database, until 14:00")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.i18n import t
from bot.incidents.times import clock
from bot.maintenance.windows import DEPLOY, RECURRING, Window
from bot.store.tables import incidents, maintenance_windows


def mark(window: Window, now: datetime, lang: str, tz: str) -> str:
    until = window.until
    if until is None:
        when = t("maint.when.open", lang)
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
    """The window incident `incident_id` is marked with, if any (one query)."""
    row = (
        await conn.execute(
            select(maintenance_windows)
            .select_from(
                incidents.join(
                    maintenance_windows, maintenance_windows.c.id == incidents.c.maintenance_id
                )
            )
            .where(incidents.c.id == incident_id)
        )
    ).first()
    return Window.of(row) if row is not None else None
