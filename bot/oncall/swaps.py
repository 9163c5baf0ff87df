"""Shift swaps: one person asks, the other confirms with a button. The card shows the request."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.deploys.moments import Zone, stamp
from bot.i18n import t
from bot.model import ActionKind, Button, ButtonStyle, Card, Field
from bot.statuses import badge
from bot.store.tables import swap_requests


def when(moment: datetime | None, lang: str = "en", tz: Zone = UTC) -> str:
    return stamp(moment, lang, tz)


def swap_card(
    row: Any,
    now: datetime,
    lang: str,
    names: Mapping[str, str] | None = None,
    *,
    tz: Zone = UTC,
) -> Card:
    """The card of a swap request as of `now`, times in `tz` (a zone or its IANA name)."""
    names = names or {}
    requester, other = names.get(row.requester, row.requester), names.get(row.other, row.other)
    status = row.status
    if status == "pending" and row.expires_at <= now:
        status = "expired"
    fields = [
        Field(t("swap.schedule", lang), row.schedule),
        Field(
            t("swap.gives", lang, user=requester),
            f"{when(row.shift_start, lang, tz)} → {when(row.shift_end, lang, tz)}",
        ),
    ]
    if row.other_start is not None:
        fields.append(
            Field(
                t("swap.gives", lang, user=other),
                f"{when(row.other_start, lang, tz)} → {when(row.other_end, lang, tz)}",
            )
        )
    key = f"swap.{status}"
    fields.append(Field(t("card.status", lang), badge(key, lang).word))
    buttons: tuple[Button, ...] = ()
    if status == "pending":
        buttons = (
            Button(t("button.accept", lang), ActionKind.ACCEPT, style=ButtonStyle.PRIMARY),
            Button(t("button.decline", lang), ActionKind.DECLINE),
        )
    kind = "swap.title" if row.other_start is not None else "swap.title_cover"
    return Card(
        ref=f"swap:{row.id}",
        title=t(kind, lang, requester=requester, other=other),
        tier=None,
        status=key,
        fields=tuple(fields),
        body=t("swap.body", lang, other=other) if status == "pending" else "",
        buttons=buttons,
        footer=t("swap.footer", lang, id=row.id),
        badge=badge(key, lang),
    )


async def render_swap(
    conn: AsyncConnection,
    swap_id: int,
    now: datetime,
    lang: str,
    names: Mapping[str, str] | None = None,
    *,
    tz: Zone = UTC,
) -> Card | None:
    row = (await conn.execute(select(swap_requests).where(swap_requests.c.id == swap_id))).first()
    return swap_card(row, now, lang, names, tz=tz) if row is not None else None
