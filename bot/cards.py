"""Cards the core posts: incident cards and storm digests, rendered from the stored state."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import reviews
from bot.alerts.facts import AlertFacts, facts
from bot.deploys import ledger
from bot.deploys.cards import recent_line
from bot.i18n import t
from bot.incidents.status import Status, card_ref, display_status, parse_card_ref
from bot.incidents.times import stamp
from bot.maintenance.mark import mark, marked
from bot.maintenance.windows import Window
from bot.model import ActionKind, Button, ButtonStyle, Card, Field, Link, Section, Tier
from bot.oncall.swaps import render_swap
from bot.paging.card import paging_field
from bot.reviews.similar import similar_lines
from bot.settings.durations import format_duration
from bot.silences.view import SilenceView, silence_lines, silence_view
from bot.statuses import badge
from bot.store.tables import digests, incidents

RunCards = Callable[[AsyncConnection, int, str], Awaitable[Card | None]]

REPORT_REF = "report:"
"""Cards of scheduled reports (``report:noise:<start>:<end>``), drawn by `reports`."""
ReportCards = Callable[[AsyncConnection, str, str, str], Awaitable[Card | None]]
"""Draws a report's card: (conn, ref, lang, tz)."""


def incident_card(
    row: Any,
    now: datetime,
    lang: str,
    *,
    silence_choices: Sequence[timedelta],
    escalate: bool = False,
    recent: Sequence[str] = (),
    rollback_to: str = "",
    tz: str = "UTC",
    facts: AlertFacts | None = None,
    upstream: SilenceView | None = None,
    maintenance: Window | None = None,
    paging: Field | None = None,
    similar: Sequence[str] = (),
) -> Card:
    """The card of incident `row` (a stored row or an `Incident`) for a reader of `lang` in
    zone `tz`; `facts` are its alerts' links, description and start, `recent` its service's
    recent runs, one line each; `maintenance` the window its episode met; `upstream`
    what its Alertmanager holds of its silence (shown while it is silenced); `paging` how its
    pages by phone and e-mail went (`bot.paging.card`); `similar` its similar past incidents,
    one line each (`bot.reviews.similar`)."""
    facts = facts or AlertFacts()
    status = display_status(row, now)
    fields = []
    if row.service:
        fields.append(Field(t("card.service", lang), row.service))
    if row.environment:
        fields.append(Field(t("card.environment", lang), row.environment))
    fields.append(Field(t("card.status", lang), t(f"status.{status}", lang)))
    fields.append(
        Field(
            t("card.alerts", lang),
            t("card.firing", lang, firing=row.firing_count, total=row.alert_count),
        )
    )
    started = facts.started or row.created_at
    fields.append(Field(t("card.started", lang), stamp(started, now, tz, lang)))
    if row.status == Status.ACKNOWLEDGED and row.acked_by:
        fields.append(Field(t("card.acked_by", lang), row.acked_by))
    if row.status == Status.RESOLVED and row.resolved_by:
        fields.append(Field(t("card.resolved_by", lang), row.resolved_by))
    if status == "silenced":
        until = stamp(row.silenced_until, now, tz, lang)
        fields.append(Field(t("card.silenced_until", lang), until))
        if upstream is not None:  # what its Alertmanager holds
            lines = silence_lines(upstream, row.firing_count or row.alert_count, now, lang, tz)
            fields.append(Field(t("silence.field", lang), "\n".join(lines)))
    if maintenance is not None:
        fields.append(Field(t("card.maintenance", lang), mark(maintenance, now, lang, tz)))
    if paging is not None:
        fields.append(paging)
    sections: tuple[Section, ...] = ()
    if recent:
        sections = (Section(t("card.recent_deploys", lang), tuple(recent)),)
    if similar:
        sections += (Section(t("review.similar.section", lang), tuple(similar)),)
    body = "\n".join(part for part in (row.summary, facts.description) if part and part.strip())
    if row.flapping:
        body = f"{body}\n{t('card.flapping', lang)}".strip()
    return Card(
        ref=card_ref(row.id),
        title=row.title,
        tier=Tier(row.tier),
        status=status,
        fields=tuple(fields),
        body=body,
        buttons=_buttons(
            row, lang, silence_choices, escalate, rollback_to, silenced=status == "silenced"
        ),
        footer=t("card.footer", lang, id=row.id, route=row.route),
        badge=badge(status, lang),
        links=tuple(Link(t(f"card.link.{k.kind}", lang), k.url) for k in facts.links),
        sections=sections,
    )


def _buttons(
    row: Any,
    lang: str,
    silence_choices: Sequence[timedelta],
    escalate: bool,
    rollback_to: str,
    *,
    silenced: bool = False,
) -> tuple[Button, ...]:
    if row.status == Status.RESOLVED:
        return ()
    buttons = []
    if row.status == Status.TRIGGERED:
        buttons.append(Button(t("button.ack", lang), ActionKind.ACK, style=ButtonStyle.PRIMARY))
        if escalate:
            buttons.append(Button(t("button.escalate", lang), ActionKind.ESCALATE))
    else:
        buttons.append(Button(t("button.unack", lang), ActionKind.UNACK))
    if silenced:  # before the choices: a platform that shows few buttons keeps it
        buttons.append(Button(t("button.unsilence", lang), ActionKind.UNSILENCE))
    for choice in silence_choices:
        text = format_duration(choice)
        buttons.append(
            Button(t("button.silence", lang, duration=text), ActionKind.SILENCE, value=text)
        )
    buttons.append(Button(t("button.resolve", lang), ActionKind.RESOLVE))
    if row.service and row.environment:
        buttons.append(
            Button(
                t("button.rollback_to", lang, version=rollback_to)
                if rollback_to
                else t("button.rollback", lang),
                ActionKind.ROLLBACK,
                value=f"{row.service}/{row.environment}",
                style=ButtonStyle.DANGER,
            )
        )
    return tuple(buttons)


def digest_card(digest_id: int, incidents: Sequence[Any], now: datetime, lang: str) -> Card:
    """One live card standing for many incidents during a storm; every one is counted."""
    open_rows = [r for r in incidents if r.status != Status.RESOLVED]
    by_service = Counter(r.service or "-" for r in incidents)
    by_tier = Counter(r.tier for r in incidents)
    top = sorted(open_rows, key=lambda r: (r.tier, r.id))[:5]
    worst = min((Tier(r.tier) for r in incidents), key=lambda x: x.rank, default=Tier.P3)
    fields = (
        Field(
            t("digest.by_tier", lang),
            ", ".join(f"{tier} {n}" for tier, n in sorted(by_tier.items())),
        ),
        Field(
            t("digest.by_service", lang),
            ", ".join(f"{svc} {n}" for svc, n in by_service.most_common(8)),
        ),
        Field(
            t("card.status", lang),
            t("digest.open", lang, open=len(open_rows), total=len(incidents)),
        ),
    )
    lines = [
        f"#{r.id} [{r.tier}] {r.title} ({t(f'status.{display_status(r, now)}', lang)})" for r in top
    ]
    body = "\n".join([t("digest.body", lang), "", t("digest.top", lang) + ":", *lines])
    buttons: tuple[Button, ...] = ()
    if open_rows:
        buttons = (
            Button(t("button.ack_all", lang), ActionKind.ACK, style=ButtonStyle.PRIMARY),
            Button(t("button.silence_all", lang, duration="2h"), ActionKind.SILENCE, value="2h"),
        )
    status = "triggered" if open_rows else "resolved"
    return Card(
        ref=f"digest:{digest_id}",
        title=t("digest.title", lang, count=len(incidents)),
        tier=worst,
        status=status,
        fields=fields,
        body=body,
        buttons=buttons,
        badge=badge(status, lang),
    )


async def render(
    conn: AsyncConnection,
    ref: str,
    now: datetime,
    lang: str,
    *,
    silence_choices: Sequence[timedelta],
    escalate: bool = False,
    names: Mapping[str, str] | None = None,
    runs: RunCards | None = None,
    recent_window: timedelta = timedelta(hours=1),
    retention: int = 5,
    deployable: frozenset[str] | None = None,
    tz: str = "UTC",
    phones: bool = True,
    reports: ReportCards | None = None,
) -> Card | None:
    """The card for `ref` as of now, for a reader of `lang` in zone `tz`, or None when what it
    showed no longer exists. `deployable`: the services that can have releases; other incidents
    skip the ledger. `phones`: whether SMS, voice or e-mail providers are configured; without
    them only an acknowledged incident's card reads its pages (to say how soon)."""
    if ref.startswith(reviews.REF):
        return await reviews.render(conn, ref, lang, tz, names)
    if ref.startswith(REPORT_REF):
        return await reports(conn, ref, lang, tz) if reports is not None else None
    kind, number = parse_card_ref(ref)
    if kind == "incident":
        row = (await conn.execute(select(incidents).where(incidents.c.id == number))).first()
        if row is None:
            return None
        recent: list[str] = []
        rollback_to = ""
        releases = deployable is None or row.service in deployable
        if runs is not None and row.service and row.environment and releases:
            found = await ledger.recent(conn, row.service, row.environment, now - recent_window)
            recent = [recent_line(r, lang, tz=tz) for r in found]
            _current, rollback_to = await ledger.rollback_target(
                conn, row.service, row.environment, retention
            )
        return incident_card(
            row,
            now,
            lang,
            silence_choices=silence_choices,
            escalate=escalate,
            recent=recent,
            rollback_to=rollback_to,
            tz=tz,
            facts=await facts(conn, row.id, row.summary),
            upstream=await silence_view(conn, row.id) if row.silenced_until else None,
            maintenance=await marked(conn, row.id) if row.maintenance_id is not None else None,
            paging=(
                await paging_field(conn, row, now, lang, tz, names)
                if phones or (row.acked_via and row.status == Status.ACKNOWLEDGED)
                else None
            ),
            similar=await similar_lines(conn, row, now, lang, tz, names),
        )
    if kind == "run":
        return await runs(conn, number, lang) if runs is not None else None
    if kind == "swap":
        return await render_swap(conn, number, now, lang, names, tz=tz)
    digest = (await conn.execute(select(digests).where(digests.c.id == number))).first()
    if digest is None:
        return None
    rows = (
        await conn.execute(select(incidents).where(incidents.c.id.in_(digest.incident_ids)))
    ).all()
    return digest_card(number, rows, now, lang)
