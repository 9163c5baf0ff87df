"""`/incident why`: who was paged for an incident, when, on which channels, and why not others,
read back from the escalation log and the pages."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.i18n import t
from bot.incidents.aggregate import Incident
from bot.store.tables import escalation_log, escalations, pages


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


async def explain(conn: AsyncConnection, incident: Incident, lang: str) -> str:
    lines = [t("why.header", lang, id=incident.id, route=incident.route, tier=incident.tier)]
    esc = (
        await conn.execute(select(escalations).where(escalations.c.incident_id == incident.id))
    ).first()
    if esc is None:
        lines.append(t("why.not_started", lang, status=t(f"status.{incident.status}", lang)))
        return "\n".join(lines)
    if esc.state == "none":
        lines.append(t("why.none", lang, route=incident.route, tier=incident.tier))
        return "\n".join(lines)
    lines.append(t("why.policy", lang, policy=esc.policy))
    sent = await _pages(conn, incident.id)
    entries = await conn.execute(
        select(escalation_log)
        .where(escalation_log.c.incident_id == incident.id)
        .order_by(escalation_log.c.id)
    )
    for entry in entries:
        lines += _entry(entry, sent, lang)
    if esc.state == "active" and esc.next_at is not None:
        lines.append(t("why.next", lang, due=_when(esc.next_at)))
    elif esc.state == "exhausted":
        lines.append(t("why.exhausted", lang))
    return "\n".join(lines)


def _entry(
    entry: Any, sent: dict[tuple[int, ...], dict[str, list[dict[str, Any]]]], lang: str
) -> list[str]:
    detail = entry.detail
    if entry.kind == "stopped":
        why = t(f"status.{detail.get('why', 'resolved')}", lang)
        return [t("why.stopped", lang, ran=_when(entry.ran_at), why=why, by=detail.get("by", ""))]
    if entry.kind != "step":
        return []
    out = [
        t(
            "why.step",
            lang,
            step=entry.step + 1,
            loop=entry.loop + 1,
            ran=_when(entry.ran_at),
            due=_when(entry.due_at),
        )
    ]
    for person in detail.get("recipients", []):
        channels = sent.get((entry.cycle, entry.loop, entry.step), {}).get(person["id"], [])
        words = ", ".join(_channel(c, lang) for c in channels) or "-"
        out.append(t("why.paged", lang, who=person["id"], via=person["via"], channels=words))
    if not detail.get("recipients"):
        out.append(t("why.nobody_paged", lang))
    for note in detail.get("notes", []):
        params = {k: ", ".join(v) if isinstance(v, list) else v for k, v in note.items()}
        key = params.pop("key")
        if "channel" in params:
            params["channel"] = t(f"channel.{params['channel']}", lang)
        out.append(t(key, lang, **params))
    return out


def _channel(page: dict[str, Any], lang: str) -> str:
    status = t(f"why.status.{page['status']}", lang)
    extra = page["reason"] or page["provider_ref"]
    text = f"{t('channel.' + page['channel'], lang)} {status}"
    return f"{text} ({extra})" if extra else text


async def _pages(
    conn: AsyncConnection, incident_id: int
) -> dict[tuple[int, ...], dict[str, list[dict[str, Any]]]]:
    found: dict[tuple[int, ...], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    rows = await conn.execute(
        select(pages).where(pages.c.incident_id == incident_id).order_by(pages.c.id)
    )
    for row in rows:
        found[(row.cycle, row.loop, row.step)][row.recipient].append(
            {
                "channel": row.channel,
                "status": row.status,
                "reason": row.reason,
                "provider_ref": row.provider_ref,
            }
        )
    return found
