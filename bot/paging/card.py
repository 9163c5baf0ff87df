"""The incident card's "Pages" field: how each person's SMS, call and e-mail of the current
episode went ("SMS to Bob delivered 02:14, call unanswered"), and, once acknowledged, how and
how soon ("Acknowledged via SMS reply 1 min 12 s after the first page")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.i18n import t
from bot.incidents.status import Status
from bot.incidents.times import clock
from bot.model import Field
from bot.reviews.card import duration
from bot.settings.oncall import PAGER_CHANNELS
from bot.store.tables import pages
from bot.texts import CATALOGUE


async def paging_field(
    conn: AsyncConnection,
    row: Any,
    now: datetime,
    lang: str,
    tz: str,
    names: Mapping[str, str] | None = None,
) -> Field | None:
    """The field for incident `row` (a stored row), or None when its episode paged nobody by
    phone or e-mail and it was not acknowledged through a page. One query."""
    episode = row.triggered_at or row.created_at
    stmt = (
        select(
            pages.c.recipient,
            pages.c.channel,
            pages.c.status,
            pages.c.delivery,
            pages.c.sent_at,
            pages.c.delivered_at,
            pages.c.created_at,
        )
        .where(and_(pages.c.incident_id == row.id, pages.c.created_at >= episode))
        .order_by(pages.c.id)
    )
    found = (await conn.execute(stmt)).all()
    if not found:
        return None
    latest: dict[str, dict[str, Any]] = {}
    for page in found:
        if page.channel in PAGER_CHANNELS and page.status != "cancelled":
            latest.setdefault(page.recipient, {})[page.channel] = page
    lines = [
        _person((names or {}).get(who, who), by_channel, now, lang, tz)
        for who, by_channel in latest.items()
    ]
    via = getattr(row, "acked_via", None)
    if row.status == Status.ACKNOWLEDGED and via and row.acked_at is not None:
        first = min(page.created_at for page in found)
        lines.append(
            t(
                "card.acked_via",
                lang,
                via=_via(via, lang),
                after=duration(first, row.acked_at, lang),
            )
        )
    return Field(t("card.pages", lang), "\n".join(lines)) if lines else None


def _person(who: str, by_channel: dict[str, Any], now: datetime, lang: str, tz: str) -> str:
    parts: list[str] = []
    for channel in PAGER_CHANNELS:
        page = by_channel.get(channel)
        if page is None:
            continue
        state = _state(page, now, lang, tz)
        name = t(f"card.page.{channel}", lang)
        key = "card.page.more" if parts else "card.page.person"
        parts.append(t(key, lang, channel=name, who=who, state=state))
    return t("card.page.sep", lang).join(parts)


def _state(page: Any, now: datetime, lang: str, tz: str) -> str:
    if page.status in ("pending", "sending"):
        return t("card.page.state.pending", lang)
    if page.status == "failed":
        return t("card.page.state.failed", lang)
    if page.delivery == "delivered" and page.delivered_at is not None:
        key = "answered" if page.channel == "voice" else "delivered"
        return t(f"card.page.state.{key}", lang, at=clock(page.delivered_at, now, tz, lang))
    if page.delivery:
        return t(f"card.page.state.{page.delivery}", lang)
    at = clock(page.sent_at, now, tz, lang) if page.sent_at else "-"
    return t("card.page.state.sent", lang, at=at)


def _via(via: str, lang: str) -> str:
    """How it was acknowledged, in words: ``SMS reply``, ``the link in the e-mail``, ``Slack``."""
    key = f"card.via.{via}"
    return t(key, lang) if key in CATALOGUE else via
