"""`/incident why`: who was paged for an incident, when, on which channels, and why not others,
read back from the escalation log and the pages — with times in the reader's zone, and, once
someone acknowledged, resolved or silenced it, that escalation stopped or paused and why
(rather than a next step that will never run)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.escalation.delivered import chat_delivery
from bot.i18n import t
from bot.incidents.aggregate import MONITORING, Incident
from bot.incidents.status import Status
from bot.incidents.times import clock
from bot.silences.view import silence_lines, silence_view
from bot.store.tables import escalation_log, escalations, page_sends, pages

Sent = dict[tuple[int, ...], dict[str, list[dict[str, Any]]]]
_VIA = re.compile(r"^(\w+):(.+?)(?: \((.+) → (\d{4}-\d\d-\d\d \d\d:\d\d) UTC\))?$")
_REASONS = ("acknowledged", "resolved", "triggered", "gone")


async def explain(
    conn: AsyncConnection, incident: Incident, lang: str, now: datetime, tz: str = "UTC"
) -> str:
    say = _Say(lang, now, tz)
    lines = await _escalation(conn, incident, say)
    if incident.silenced_until is not None and incident.silenced_until > now:
        lines += await _upstream(conn, incident, say)
    return "\n".join(line for line in lines if line)


async def _escalation(conn: AsyncConnection, incident: Incident, say: _Say) -> list[str]:
    """Who was paged, who is next, or why nobody is."""
    lang = say.lang
    lines = [t("why.header", lang, id=incident.id, route=incident.route, tier=incident.tier)]
    esc = (
        await conn.execute(select(escalations).where(escalations.c.incident_id == incident.id))
    ).first()
    if esc is None:
        lines.append(t("why.not_started", lang, status=t(f"status.{incident.status}", lang)))
        return lines
    if esc.state == "none":
        lines.append(t("why.none", lang, route=incident.route, tier=incident.tier))
        return lines
    lines.append(t("why.policy", lang, policy=esc.policy))
    sent = await _pages(conn, incident.id)
    entries = await conn.execute(
        select(escalation_log)
        .where(escalation_log.c.incident_id == incident.id)
        .order_by(escalation_log.c.id)
    )
    for entry in entries:
        lines += _entry(entry, sent, say)
    if esc.state == "active":
        lines.append(_ahead(incident, esc.next_at, say))
    elif esc.state == "exhausted":
        lines.append(t("why.exhausted", lang))
    return lines


class _Say:
    """The reader: language, and moments in their zone."""

    def __init__(self, lang: str, now: datetime, tz: str) -> None:
        self.lang, self.now, self.tz = lang, now, tz

    def when(self, moment: datetime | None) -> str:
        return clock(moment, self.now, self.tz, self.lang) if moment else "-"


async def _upstream(conn: AsyncConnection, incident: Incident, say: _Say) -> list[str]:
    """What its Alertmanager holds of the incident's silence, as its card says it."""
    view = await silence_view(conn, incident.id)
    if view is None:
        return []
    alerts = incident.firing_count or incident.alert_count
    return silence_lines(view, alerts, say.now, say.lang, say.tz)


def _ahead(incident: Incident, next_at: datetime | None, say: _Say) -> str:
    """What comes next for a running escalation, as the incident stands now."""
    lang = say.lang
    if incident.status == Status.ACKNOWLEDGED:
        return t(
            "why.stopped.acknowledged",
            lang,
            ran=say.when(incident.acked_at),
            by=incident.acked_by or "-",
        )
    if incident.status == Status.RESOLVED:
        return _resolved(say, say.when(incident.resolved_at), incident.resolved_by or "")
    silenced = incident.silenced_until
    if silenced is not None and silenced > say.now:
        return t("why.paused", lang, until=say.when(silenced))
    return t("why.next", lang, due=say.when(next_at)) if next_at is not None else ""


def _resolved(say: _Say, ran: str, by: str) -> str:
    if by in ("", MONITORING):
        return t("why.stopped.recovered", say.lang, ran=ran)
    return t("why.stopped.resolved", say.lang, ran=ran, by=by)


def _stopped(detail: dict[str, Any], ran: str, say: _Say) -> str:
    why, by = str(detail.get("why", "resolved")), str(detail.get("by", ""))
    if why == "acknowledged":
        return t("why.stopped.acknowledged", say.lang, ran=ran, by=by or "-")
    if why == "triggered":
        return t("why.stopped.triggered", say.lang, ran=ran)
    return _resolved(say, ran, by)


def _held(detail: dict[str, Any], ran: str, say: _Say) -> str:
    """A step a maintenance window held back: ``paging held: maintenance window #7 until
    14:00`` (see `bot.maintenance.paging`)."""
    until = detail.get("until")
    if until is None:
        return t("why.maintenance_open", say.lang, ran=ran, id=detail.get("window", "?"))
    moment = say.when(datetime.fromisoformat(str(until)))
    key = "why.maintenance_deploy" if detail.get("kind") == "deploy" else "why.maintenance"
    return t(key, say.lang, ran=ran, id=detail.get("window", "?"), until=moment)


def _entry(entry: Any, sent: Sent, say: _Say) -> list[str]:
    detail, lang = entry.detail, say.lang
    if entry.kind == "stopped":
        return [_stopped(detail, say.when(entry.ran_at), say)]
    if entry.kind == "maintenance":
        return [_held(detail, say.when(entry.ran_at), say)]
    if entry.kind == "undelivered":
        return [_undelivered(detail, say)]
    if entry.kind != "step":
        return []
    out = [
        t(
            "why.step",
            lang,
            step=entry.step + 1,
            loop=entry.loop + 1,
            ran=say.when(entry.ran_at),
            due=say.when(entry.due_at),
        )
    ]
    for person in detail.get("recipients", []):
        channels = sent.get((entry.cycle, entry.loop, entry.step), {}).get(person["id"], [])
        words = t("why.list_sep", lang).join(_channel(c, say) for c in channels) or "-"
        via = _via(str(person["via"]), say)
        out.append(t("why.paged", lang, who=person["id"], via=via, channels=words))
    if not detail.get("recipients"):
        out.append(t("why.nobody_paged", lang))
    for note in detail.get("notes", []):
        params = {k: ", ".join(v) if isinstance(v, list) else v for k, v in note.items()}
        key = params.pop("key")
        if "channel" in params:
            params["channel"] = t(f"channel.{params['channel']}", lang)
        out.append(t(key, lang, **params))
    return out


def _via(via: str, say: _Say) -> str:
    """How a person came to be paged (``schedule:primary (daily → 2026-01-05 09:00 UTC)``),
    in the reader's words and zone."""
    found = _VIA.match(via)
    if found is None:
        return via
    kind, name, source, until = found.groups()
    if kind not in ("schedule", "user", "group", "owner", "chat"):
        return via
    if kind == "schedule" and source and until:
        moment = datetime.fromisoformat(f"{until}+00:00")
        return t("why.via.shift", say.lang, name=name, source=source, until=say.when(moment))
    return t(f"why.via.{kind}", say.lang, name=name)


def _undelivered(detail: dict[str, Any], say: _Say) -> str:
    """``SMS to bob undelivered: next step at once.`` (a P0 page nobody got)."""
    channel = t("channel." + str(detail.get("channel", "sms")), say.lang)
    status = t(f"why.delivery.{detail.get('status', 'undelivered')}", say.lang)
    return t(
        "why.undelivered", say.lang, channel=channel, who=detail.get("recipient"), status=status
    )


def _channel(page: dict[str, Any], say: _Say) -> str:
    return _phone(page, say) if page.get("sends") or page.get("delivery") else _plain(page, say)


def _reason(page: dict[str, Any], say: _Say) -> str:
    """Why a page is as it is, in words: who stopped it, when it arrived, or the provider's
    own message (quoted as it came) and reference."""
    if page["status"] == "delivered":
        return say.when(page["at"])
    reason = str(page["reason"])
    state, _, who = reason.partition(" ")
    if page["status"] == "cancelled" and state == "resolved" and who in ("", MONITORING):
        return t("why.reason.recovered", say.lang)
    if page["status"] == "cancelled" and state in _REASONS:
        return t(f"why.reason.{state}", say.lang, by=who or "-")
    if reason in ("throttled", "provider timeout"):
        return t(f"why.reason.{reason.replace(' ', '_')}", say.lang)
    return reason or str(page["provider_ref"])


def _phone(page: dict[str, Any], say: _Say) -> str:
    """A phone page through its providers: ``aliyun failed (isv.…) → sent by tencent``, then
    how the last send went: ``SMS delivered 02:14 (tencent)``, ``call unanswered (twilio)``."""
    lang = say.lang
    sends = page.get("sends", [])
    words = []
    for before, after in pairwise(sends):
        if after.position <= before.position:
            continue
        key = before.status if before.status in ("failed", "superseded") else "reported"
        status = t(f"why.delivery.{before.status}", lang) if key == "reported" else ""
        words.append(
            t(
                f"why.failover.{key}",
                lang,
                provider=before.provider,
                detail=before.detail or "-",
                within=before.detail or "?",
                status=status,
                next=after.provider,
            )
        )
    channel = t("channel." + page["channel"], lang)
    delivery, provider = page.get("delivery") or "", page.get("provider") or ""
    if page["status"] != "sent" or not delivery:
        words.append(_plain(page, say))
        return t("why.list_sep", lang).join(words)
    if delivery == "delivered":
        key = "answered" if page["channel"] == "voice" else "delivered"
        state = t(f"why.delivery.{key}", lang, at=say.when(page.get("delivered_at")))
    else:
        state = t(f"why.delivery.{delivery}", lang)
    what = t("why.channel", lang, channel=channel, status=state)
    detail = sends[-1].detail if sends and delivery != "delivered" else ""
    if detail:
        words.append(
            t("why.delivery.line_detail", lang, what=what, provider=provider, detail=detail)
        )
    else:
        words.append(t("why.delivery.line", lang, what=what, provider=provider))
    return t("why.list_sep", lang).join(words)


def _plain(page: dict[str, Any], say: _Say) -> str:
    """A page as it stands, without its providers' reports: ``SMS sent (sms-1)``."""
    lang = say.lang
    status = t(f"why.status.{page['status']}", lang)
    extra = _reason(page, say)
    channel = t("channel." + page["channel"], lang)
    if extra:
        return t("why.channel_because", lang, channel=channel, status=status, extra=extra)
    return t("why.channel", lang, channel=channel, status=status)


async def _pages(conn: AsyncConnection, incident_id: int) -> Sent:
    found: Sent = defaultdict(lambda: defaultdict(list))
    sends: dict[int, list[Any]] = defaultdict(list)
    stmt = (
        select(page_sends).where(page_sends.c.incident_id == incident_id).order_by(page_sends.c.id)
    )
    for send in (await conn.execute(stmt)).all():
        sends[send.page_id].append(send)
    rows = await conn.execute(
        select(pages).where(pages.c.incident_id == incident_id).order_by(pages.c.id)
    )
    for row in rows.all():
        status, at = row.status, row.sent_at
        if row.channel == "chat" and status == "queued":
            delivery = await chat_delivery(conn, incident_id, row)
            status, at = delivery.status, delivery.at
        found[(row.cycle, row.loop, row.step)][row.recipient].append(
            {
                "channel": row.channel,
                "status": status,
                "at": at,
                "reason": row.reason,
                "provider_ref": row.provider_ref,
                "provider": row.provider,
                "delivery": row.delivery if row.channel in ("sms", "voice") else "",
                "delivered_at": row.delivered_at,
                "sends": sends.get(row.id, []),
            }
        )
    return found
