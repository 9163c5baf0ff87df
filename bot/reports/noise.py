"""The noise report: where the alerts and pages of a period came from, and what to change.

`noise_report` reads one period from the database into a `NoiseReport` (`noise_model`);
`noise_text` is `tocsin report noise` (Markdown, CSV or JSON, see `noise_format`), and the
weekly card (`bot.reports.weekly`) shows the same report in a chat.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.prefs import user_scope
from bot.reports.noise_data import read_incidents, read_pages
from bot.reports.noise_format import FORMATTERS
from bot.reports.noise_model import STALE_AFTER, NoiseReport, build
from bot.reviews.stale import stale_reviews
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import preferences


def team_services(settings: Settings, team: str) -> tuple[str, ...]:
    """The services whose owner is one of the people of the group `team`."""
    if team not in settings.groups:
        known = ", ".join(sorted(settings.groups)) or "none configured"
        raise ValueError(f"--team: no group {team!r} (groups: {known})")
    people = set(settings.groups[team])
    return tuple(sorted(name for name, s in settings.services.items() if s.owner in people))


async def noise_report(
    settings: Settings,
    conn: AsyncConnection,
    *,
    since: datetime,
    until: datetime,
    services: Sequence[str] = (),
) -> NoiseReport:
    """The report of ``[since, until)`` for `services` (all when empty)."""
    found = await read_incidents(conn, since, until, services)
    paged = await read_pages(conn, [i.id for i in found])
    zones = await _zones(conn, {p.recipient for p in paged}, settings.tocsin.timezone)
    stale = await stale_reviews(conn, until - STALE_AFTER, tuple(services))
    flapping = settings.incidents.flapping
    return build(
        since=since,
        until=until,
        services=services,
        found=found,
        paged=paged,
        zones=zones,
        stale=stale,
        flapping_changes=flapping.max_changes,
        flapping_window=flapping.window,
    )


async def noise_text(
    settings: Settings,
    db: Database,
    *,
    since: datetime,
    until: datetime,
    services: tuple[str, ...] = (),
    team: str | None = None,
    fmt: str = "md",
    lang: str = "en",
) -> str:
    """`tocsin report noise`: the report as `fmt` (md, csv or json) in `lang`; `team` narrows
    it to the services its people own (with `services`, to those of both)."""
    if fmt not in FORMATTERS:
        raise ValueError(f"--format: one of {', '.join(FORMATTERS)}")
    chosen = tuple(services)
    if team is not None:
        owned = team_services(settings, team)
        chosen = tuple(s for s in chosen if s in owned) if chosen else owned
    async with db.connect() as conn:
        if team is not None and not chosen:  # owns nothing: an empty report, not every service
            report = empty(since, until)
        else:
            report = await noise_report(settings, conn, since=since, until=until, services=chosen)
    return FORMATTERS[fmt](report, lang, settings.tocsin.timezone)


def empty(since: datetime, until: datetime) -> NoiseReport:
    return NoiseReport(since, until, ("",), 0, (), (), (), (), (), (), ())


async def _zones(conn: AsyncConnection, people: set[str], default: str) -> dict[str, str]:
    """Each person's time zone: their stored choice (`/tz`), else the configured default."""
    zones = dict.fromkeys(people, default)
    if people:
        scopes = {user_scope(p): p for p in people}
        stmt = select(preferences.c.scope, preferences.c.timezone).where(
            preferences.c.scope.in_(sorted(scopes))
        )
        for row in await conn.execute(stmt):
            if row.timezone:
                zones[scopes[row.scope]] = row.timezone
    return zones
