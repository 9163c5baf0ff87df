"""The weekly noise card (`reports.noise`), posted once per period to its chats.

Each engine round asks whether the latest weekly moment (`day` at `at`, wall time in
`time_zone`) has a post; the first replica to insert the period's `report_posts` row queues the
card to every chat in the same transaction, so the card goes out once whatever the number of
replicas, and a replica killed before its commit leaves the period to the next one. After a
stop longer than a week only the latest period is posted: older ones are news no more.

The card row carries no content (as every card in the outbox): `NoiseCards.render` builds it
when it is delivered, for the reader of each chat, from the period written in its reference.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.incidents.times import zone
from bot.model import Card
from bot.reports.noise import noise_report
from bot.reports.noise_card import noise_card
from bot.services import Services
from bot.settings import Settings
from bot.settings.oncall import WEEKDAYS
from bot.store.tables import report_posts

NAME = "noise"
REF = "report:noise:"
"""Card references: ``report:noise:<start>:<end>`` (seconds since the epoch)."""


def latest_moment(now: datetime, day: str, at: time, tz: str) -> datetime:
    """The last weekly moment at or before `now`: weekday `day` at wall time `at` in `tz`
    (a wall time a DST change skips reads as the zone's offset before it)."""
    where = zone(tz)
    local = now.astimezone(where)
    back = (local.weekday() - WEEKDAYS.index(day)) % 7
    date = local.date() - timedelta(days=back)
    moment = datetime.combine(date, at, tzinfo=where).astimezone(UTC)
    if moment > now:
        moment = datetime.combine(date - timedelta(days=7), at, tzinfo=where).astimezone(UTC)
    return moment


def card_ref(since: datetime, until: datetime) -> str:
    return f"{REF}{int(since.timestamp())}:{int(until.timestamp())}"


def parse_ref(ref: str) -> tuple[datetime, datetime] | None:
    start, sep, end = ref.removeprefix(REF).partition(":")
    if not ref.startswith(REF) or not sep or not (start.isdigit() and end.isdigit()):
        return None
    return datetime.fromtimestamp(int(start), UTC), datetime.fromtimestamp(int(end), UTC)


class WeeklyReports:
    def __init__(self, services: Services) -> None:
        self.s = services
        self._posted: datetime | None = None
        """The period start last seen posted (by any replica): no query until the next."""

    async def run(self, now: datetime) -> None:
        """Post the report of the period just ended, when it is due and not yet posted."""
        config = self.s.settings.reports.noise
        if config is None:
            return
        tz = config.time_zone or self.s.settings.tocsin.timezone
        until = latest_moment(now, config.day, config.at, tz)
        since = until - config.period
        if self._posted == since:
            return
        db = self.s.db
        async with db.begin() as conn:
            if await _posted(conn, since):
                self._posted = since
                return
            claim = (
                db.insert(report_posts)
                .values(name=NAME, period_start=since, posted_at=now)
                .on_conflict_do_nothing()
                .returning(report_posts.c.name)
            )
            if (await conn.execute(claim)).first() is not None:
                chats = [str(c) for c in config.chats]
                await self.s.outbox.card(conn, card_ref(since, until), chats, priority=3, now=now)
        self._posted = since


async def _posted(conn: AsyncConnection, since: datetime) -> bool:
    stmt = select(report_posts.c.name).where(
        and_(report_posts.c.name == NAME, report_posts.c.period_start == since)
    )
    return (await conn.execute(stmt)).first() is not None


class NoiseCards:
    """Renders the weekly card for the outbox worker (``report:noise:…`` references)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def render(self, conn: AsyncConnection, ref: str, lang: str, tz: str) -> Card | None:
        period = parse_ref(ref)
        if period is None:
            return None
        config = self.settings.reports.noise
        services = config.services if config is not None else ()
        since, until = period
        report = await noise_report(
            self.settings, conn, since=since, until=until, services=services
        )
        return noise_card(report, ref, lang, tz)
