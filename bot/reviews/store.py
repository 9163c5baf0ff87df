"""Keeping reviews: the facts (to make the card in any language) and a Markdown rendering in the
default language, one row per rollback run, with its follow-up items tracked
(`bot.reviews.followups`); read back for a card or an export."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.model import Card
from bot.reviews import followups
from bot.reviews.card import REF, review_card
from bot.reviews.checklist import follow_items
from bot.reviews.facts import Facts
from bot.reviews.gather import gather
from bot.reviews.markdown import to_markdown, to_text
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import rca_drafts


async def keep(
    conn: AsyncConnection, db: Database, settings: Settings, run_id: int, now: datetime
) -> None:
    """Write the review of rollback run `run_id` (once: a second call changes nothing)."""
    facts = await gather(conn, settings, run_id)
    lang = settings.tocsin.language
    markdown = to_markdown(review_card(facts, lang))
    incident = facts.incident.id if facts.incident is not None else None
    written = await conn.execute(
        db.insert(rca_drafts)
        .values(
            run_id=run_id,
            incident_id=incident,
            markdown=markdown,
            facts=facts.to_json(),
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(rca_drafts.c.run_id)
    )
    if written.first() is not None:  # this transaction wrote the draft: its items go with it
        texts = follow_items(facts, lang)
        await followups.create(conn, run_id=run_id, incident_id=incident, texts=texts, now=now)


async def render(
    conn: AsyncConnection,
    ref: str,
    lang: str,
    tz: tzinfo | str = UTC,
    names: Mapping[str, str] | None = None,
) -> Card | None:
    """The card of ``review:<run id>`` with times in `tz` (a zone or its IANA name) and its
    follow-up items (who marked them by `names`), or None when there is no such review."""
    number = ref.removeprefix(REF)
    if not ref.startswith(REF) or not (number.isascii() and number.isdigit()):
        return None
    stmt = select(rca_drafts.c.facts).where(rca_drafts.c.run_id == int(number))
    facts = (await conn.execute(stmt)).scalar()
    if not facts:
        return None
    items = await followups.of_run(conn, int(number))
    return review_card(Facts.from_json(facts), lang, zone(tz), items, names)


def zone(tz: tzinfo | str) -> tzinfo:
    """`tz`, or the zone named `tz` (UTC when no such zone is known)."""
    if not isinstance(tz, str):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


@dataclass(frozen=True, slots=True)
class Stored:
    markdown: str
    facts: Facts | None
    """None for a review written before the facts were kept: only its Markdown is left."""
    items: tuple[followups.Item, ...] = ()
    """Its tracked follow-up items, done or not."""
    run_id: int | None = None

    def document(self, fmt: str, lang: str, tz: tzinfo = UTC) -> str:
        """The review as ``md`` or ``text`` in `lang`, its follow-ups as they stand."""
        if self.facts is None:
            return self.markdown
        card = review_card(self.facts, lang, tz, self.items)
        return to_markdown(card) if fmt == "md" else to_text(card)


async def find(
    conn: AsyncConnection, *, run_id: int | None = None, incident_id: int | None = None
) -> Stored | None:
    """The review of a rollback run, or the newest one of an incident."""
    column, value = (
        (rca_drafts.c.run_id, run_id)
        if run_id is not None
        else (rca_drafts.c.incident_id, incident_id)
    )
    stmt = (
        select(rca_drafts.c.run_id, rca_drafts.c.markdown, rca_drafts.c.facts)
        .where(column == value)
        .order_by(rca_drafts.c.created_at.desc(), rca_drafts.c.run_id.desc())
        .limit(1)
    )
    row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    items = tuple(await followups.of_run(conn, row.run_id))
    facts = Facts.from_json(row.facts) if row.facts else None
    return Stored(row.markdown, facts, items, row.run_id)
