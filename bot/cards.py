"""Cards the core posts: incident cards and storm digests, rendered from the stored state."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.deploys import ledger
from bot.deploys.cards import recent_line
from bot.i18n import t
from bot.incidents.status import Status, card_ref, display_status, parse_card_ref
from bot.model import ActionKind, Button, ButtonStyle, Card, Field, Tier
from bot.oncall.swaps import render_swap
from bot.settings.durations import format_duration
from bot.store.tables import digests, incidents

RunCards = Callable[[AsyncConnection, int, str], Awaitable[Card | None]]


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def incident_card(
    row: Any,
    now: datetime,
    lang: str,
    *,
    silence_choices: Sequence[timedelta],
    escalate: bool = False,
    recent: Sequence[str] = (),
    rollback_to: str = "",
) -> Card:
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
    fields.append(Field(t("card.started", lang), when(row.created_at)))
    if row.status == Status.ACKNOWLEDGED and row.acked_by:
        fields.append(Field(t("card.acked_by", lang), row.acked_by))
    if row.status == Status.RESOLVED and row.resolved_by:
        fields.append(Field(t("card.resolved_by", lang), row.resolved_by))
    if status == "silenced":
        fields.append(Field(t("card.silenced_until", lang), when(row.silenced_until)))
    if recent:
        fields.append(Field(t("card.recent_deploys", lang), "\n".join(recent)))
    body = row.summary
    if row.flapping:
        body = f"{body}\n{t('card.flapping', lang)}".strip()
    return Card(
        ref=card_ref(row.id),
        title=row.title,
        tier=Tier(row.tier),
        status=status,
        fields=tuple(fields),
        body=body,
        buttons=_buttons(row, lang, silence_choices, escalate, rollback_to),
        footer=t("card.footer", lang, id=row.id, route=row.route),
    )


def _buttons(
    row: Any, lang: str, silence_choices: Sequence[timedelta], escalate: bool, rollback_to: str
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
                confirm=t(
                    "button.rollback.confirm",
                    lang,
                    service=row.service,
                    environment=row.environment,
                ),
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
            f"{len(open_rows)}/{len(incidents)} {t('status.triggered', lang)}",
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
    return Card(
        ref=f"digest:{digest_id}",
        title=t("digest.title", lang, count=len(incidents)),
        tier=worst,
        status="triggered" if open_rows else "resolved",
        fields=fields,
        body=body,
        buttons=buttons,
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
) -> Card | None:
    """The card for `ref` as of now, or None when what it showed no longer exists.
    `deployable`: the services that can have releases; other incidents skip the ledger."""
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
            recent = [recent_line(r, lang) for r in found]
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
        )
    if kind == "run":
        return await runs(conn, number, lang) if runs is not None else None
    if kind == "swap":
        return await render_swap(conn, number, now, lang, names)
    digest = (await conn.execute(select(digests).where(digests.c.id == number))).first()
    if digest is None:
        return None
    rows = (
        await conn.execute(select(incidents).where(incidents.c.id.in_(digest.incident_ids)))
    ).all()
    return digest_card(number, rows, now, lang)
