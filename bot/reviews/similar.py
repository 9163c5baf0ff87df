"""Similar past incidents, for a new incident's card: the most recent earlier incidents of the
same alert (its ``alertname`` label) on the same service that were resolved, each with when it
happened, how it ended and its review, so what was learnt last time is one look away.

Bounded: only incidents resolved within `LOOKBACK` of the new one's start are looked at (the
resolved-time index, `ix_incidents_resolved`, finds them), at most `SHOWN` are kept. Computed
once per incident and process: which incidents are similar never changes once the incident is
open (they all started before it), so their ids are remembered (`SimilarCache`) and a card's
re-render reads only those few rows by primary key for how they stand now."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.i18n import t
from bot.incidents.aggregate import MONITORING
from bot.incidents.status import Status
from bot.incidents.times import stamp
from bot.store.tables import incidents, rca_drafts

LOOKBACK = timedelta(days=180)
SHOWN = 3
REMEMBERED = 4096
"""Incidents whose similar ones a process remembers (the oldest are forgotten first)."""


def span(spent: timedelta, lang: str) -> str:
    """``42 min``, ``3 h 12 min``, ``2 d 5 h`` (in `lang`)."""
    minutes = max(int(spent.total_seconds()) // 60, 0)
    if minutes < 60:
        return t("review.span.minutes", lang, m=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return t("review.span.hours", lang, h=hours, m=minutes)
    days, hours = divmod(hours, 24)
    return t("review.span.days", lang, d=days, h=hours)


class SimilarCache:
    """The similar incidents' ids of each incident, per database (an engine), least recently
    used forgotten first."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size = size
        self._by_engine: weakref.WeakKeyDictionary[Engine, OrderedDict[int, tuple[int, ...]]]
        self._by_engine = weakref.WeakKeyDictionary()

    def get(self, engine: Engine, incident_id: int) -> tuple[int, ...] | None:
        known = self._by_engine.get(engine)
        if known is None or incident_id not in known:
            return None
        known.move_to_end(incident_id)
        return known[incident_id]

    def put(self, engine: Engine, incident_id: int, ids: tuple[int, ...]) -> None:
        known = self._by_engine.setdefault(engine, OrderedDict())
        known[incident_id] = ids
        known.move_to_end(incident_id)
        while len(known) > self.size:
            known.popitem(last=False)


CACHE = SimilarCache()


async def similar_ids(conn: AsyncConnection, row: Any) -> tuple[int, ...]:
    """The ids of the incidents like incident `row` (a stored row), newest first."""
    labels = row.labels if isinstance(row.labels, dict) else {}
    name = labels.get("alertname")
    if not name or not row.service:
        return ()
    stmt = (
        select(incidents.c.id)
        .where(
            incidents.c.resolved_at >= row.created_at - LOOKBACK,
            incidents.c.created_at < row.created_at,
            incidents.c.service == row.service,
            incidents.c.labels["alertname"].as_string() == name,
        )
        .order_by(incidents.c.created_at.desc(), incidents.c.id.desc())
        .limit(SHOWN)
    )
    return tuple((await conn.execute(stmt)).scalars())


async def similar_lines(
    conn: AsyncConnection,
    row: Any,
    now: datetime,
    lang: str,
    tz: str,
    names: Mapping[str, str] | None = None,
    cache: SimilarCache = CACHE,
) -> tuple[str, ...]:
    """One line per similar past incident of `row`: ``#12 · 09:14 CST · 3 days ago — resolved
    by Alice after 42 min · review: /review show 12``."""
    ids = cache.get(conn.sync_engine, row.id)
    if ids is None:
        ids = await similar_ids(conn, row)
        cache.put(conn.sync_engine, row.id, ids)
    if not ids:
        return ()
    found = {
        r.id: r
        for r in (
            await conn.execute(
                select(
                    incidents.c.id,
                    incidents.c.created_at,
                    incidents.c.status,
                    incidents.c.resolved_at,
                    incidents.c.resolved_by,
                ).where(incidents.c.id.in_(ids))
            )
        ).all()
    }
    reviewed = set(
        (
            await conn.execute(
                select(rca_drafts.c.incident_id).where(rca_drafts.c.incident_id.in_(ids))
            )
        ).scalars()
    )
    lines = []
    for number in ids:
        past = found.get(number)
        if past is None:  # pruned since
            continue
        review = (
            t("review.similar.review", lang, id=number)
            if number in reviewed
            else t("review.similar.no_review", lang)
        )
        lines.append(
            t(
                "review.similar.line",
                lang,
                id=number,
                when=stamp(past.created_at, now, tz, lang),
                ended=_ended(past, lang, names or {}),
                review=review,
            )
        )
    return tuple(lines)


def _ended(past: Any, lang: str, names: Mapping[str, str]) -> str:
    if past.status != Status.RESOLVED or past.resolved_at is None:
        return t("review.similar.open", lang, status=t(f"status.{past.status}", lang))
    spent = span(past.resolved_at - past.created_at, lang)
    if past.resolved_by in (None, MONITORING):
        return t("review.similar.resolved_itself", lang, spent=spent)
    who = names.get(past.resolved_by, past.resolved_by)
    return t("review.similar.resolved_by", lang, who=who, spent=spent)
