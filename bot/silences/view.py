"""What a silenced incident's card says about its Alertmanager silences.

`silence_view` reads the rows once (the card asks only while the incident is silenced);
`silence_lines` words them for one reader: created (until when, which id, which matchers),
still pending (and why), refused, or made by someone in Alertmanager itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.i18n import t
from bot.incidents.times import clock
from bot.silences.rows import ACTIVE, ALERTMANAGER, FAILED, PENDING, SHOWN, TOCSIN
from bot.store.tables import am_silences

ID_CHARS = 8
FOUND_SHOWN = 3
"""Silences made in Alertmanager shown on one card at most."""


@dataclass(frozen=True, slots=True)
class Upstream:
    """One silence as the card shows it."""

    state: str
    scope: str
    matchers: tuple[tuple[str, str], ...]
    silence_id: str
    created_by: str
    ends_at: datetime
    last_error: str

    @classmethod
    def of(cls, row: Any) -> Upstream:
        return cls(
            row.state,
            row.scope,
            tuple((str(m["name"]), str(m["value"])) for m in row.matchers),
            row.silence_id or "",
            row.created_by,
            row.ends_at,
            row.last_error,
        )


@dataclass(frozen=True, slots=True)
class SilenceView:
    asked: tuple[Upstream, ...]
    """What Tocsin asked for, for the incident's latest silence."""
    found: tuple[Upstream, ...]
    """Silences made in Alertmanager that match the incident's alerts."""


async def silence_view(conn: AsyncConnection, incident_id: int) -> SilenceView | None:
    """The incident's silences in Alertmanager; None when it has none (its alerts come from
    no Alertmanager with an API)."""
    row = am_silences.c
    rows = (
        await conn.execute(
            select(am_silences)
            .where(and_(row.incident_id == incident_id, row.state.in_(SHOWN)))
            .order_by(row.id)
        )
    ).all()
    if not rows:
        return None
    return SilenceView(
        tuple(Upstream.of(r) for r in rows if r.origin == TOCSIN),
        tuple(Upstream.of(r) for r in rows if r.origin == ALERTMANAGER and r.state == ACTIVE),
    )


def silence_lines(
    view: SilenceView, alerts: int, now: datetime, lang: str, tz: str = "UTC"
) -> list[str]:
    """`view` in words for a reader of `lang` in zone `tz`; `alerts`: how many alerts the
    incident has (to say when one-by-one silences were capped)."""
    lines = []
    if view.asked:
        lines.append(_asked(view.asked, now, lang, tz))
        lines.append(_scope(view.asked, alerts, lang))
    for found in view.found[:FOUND_SHOWN]:
        lines.append(
            t(
                "silence.found",
                lang,
                who=found.created_by,
                until=clock(found.ends_at, now, tz, lang),
                id=_short(found.silence_id),
            )
        )
    return lines


def _asked(asked: tuple[Upstream, ...], now: datetime, lang: str, tz: str) -> str:
    refused = next((s for s in asked if s.state == FAILED), None)
    if refused is not None:
        return t("silence.refused", lang, error=refused.last_error)
    waiting = [s for s in asked if s.state == PENDING]
    if waiting:
        error = next((s.last_error for s in waiting if s.last_error), "")
        return t("silence.pending", lang, error=error) if error else t("silence.sending", lang)
    ids = _short(asked[0].silence_id)
    if len(asked) > 1:
        ids = f"{ids} (+{len(asked) - 1})"
    until = max(s.ends_at for s in asked)
    return t("silence.active", lang, until=clock(until, now, tz, lang), id=ids)


def _scope(asked: tuple[Upstream, ...], alerts: int, lang: str) -> str:
    if asked[0].scope == "group":
        matchers = ", ".join(f"{name}={value}" for name, value in asked[0].matchers)
        return t("silence.scope.group", lang, matchers=matchers)
    if alerts > len(asked):
        return t("silence.scope.capped", lang, count=len(asked), total=alerts)
    return t("silence.scope.alerts", lang, count=len(asked))


def _short(silence_id: str) -> str:
    return f"{silence_id[:ID_CHARS]}…" if len(silence_id) > ID_CHARS else silence_id
