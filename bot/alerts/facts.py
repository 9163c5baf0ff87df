"""What an incident's card tells about its alerts: the links a responder opens first, the
alert's description, and when it really started (the source's ``startsAt``, not when Tocsin
heard of it).

Links come from the alerts' annotations — the runbook (``runbook_url``, ``runbook``), the
dashboard (``dashboard_url``, ``dashboard``, ``grafana_url``; Grafana's ``dashboardURL``), the
panel (Grafana's ``panelURL``) — from the alert's ``generatorURL`` (its source), and, for an
Alertmanager alert whose ``externalURL`` is known, a link that opens a new silence for its
labels. Only http(s) links are kept, each once, at most `MAX_LINKS`, firing alerts first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import alerts

MAX_LINKS = 5
READ = 20
"""Alerts read for their links and description (the first ones, firing first)."""
ALERTMANAGER_URL = "alertmanager_url"
"""The annotation an Alertmanager webhook's ``externalURL`` is kept under."""
_ANNOTATIONS = (
    ("runbook", ("runbook_url", "runbook")),
    ("dashboard", ("dashboard_url", "dashboard", "grafana_url")),
    ("panel", ("panel_url",)),
)


@dataclass(frozen=True, slots=True)
class AlertLink:
    kind: str
    """``runbook``, ``dashboard``, ``panel``, ``source`` or ``silence`` (its label's key)."""
    url: str


@dataclass(frozen=True, slots=True)
class AlertFacts:
    links: tuple[AlertLink, ...] = ()
    description: str = ""
    started: datetime | None = None
    """The earliest ``startsAt`` of the incident's alerts, when any alert had one."""


def is_web(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def silence_url(base: str, labels: Mapping[str, str]) -> str:
    """Alertmanager's page for a new silence matching `labels` exactly."""
    matchers = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return f"{base.rstrip('/')}/#/silences/new?filter={quote('{' + matchers + '}', safe='')}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def links_of(rows: Iterable[Any]) -> tuple[AlertLink, ...]:
    """The links of `rows` (alerts with `annotations`, `labels`, `generator_url`), in order."""
    found: list[AlertLink] = []
    seen: set[str] = set()

    def add(kind: str, url: str) -> None:
        url = url.strip()
        if url and url not in seen and is_web(url) and len(found) < MAX_LINKS:
            seen.add(url)
            found.append(AlertLink(kind, url))

    for row in rows:
        notes: Mapping[str, str] = row.annotations or {}
        for kind, keys in _ANNOTATIONS:
            for key in keys:
                add(kind, str(notes.get(key, "")))
        add("source", row.generator_url or "")
        base = str(notes.get(ALERTMANAGER_URL, ""))
        if base and is_web(base) and row.labels:
            add("silence", silence_url(base, row.labels))
    return tuple(found)


def description_of(rows: Iterable[Any], summary: str) -> str:
    """The first alert's ``description``, unless the card's summary says it already."""
    for row in rows:
        text = str((row.annotations or {}).get("description", "")).strip()
        if text:
            return "" if text == summary.strip() else text
    return ""


async def facts(conn: AsyncConnection, incident_id: int, summary: str) -> AlertFacts:
    """The facts of incident `incident_id`'s alerts, read in one short query (the earliest
    start is a window over all of them, the rows read at most `READ`)."""
    firing_first = case((alerts.c.status == "firing", 0), else_=1)
    rows = (
        await conn.execute(
            select(
                alerts.c.labels,
                alerts.c.annotations,
                alerts.c.generator_url,
                func.min(alerts.c.starts_at).over().label("started"),
            )
            .where(alerts.c.incident_id == incident_id)
            .order_by(firing_first, alerts.c.id)
            .limit(READ)
        )
    ).all()
    started = rows[0].started if rows else None
    if started is not None and started.tzinfo is None:  # SQLite hands back a naive UTC time
        started = started.replace(tzinfo=UTC)
    return AlertFacts(links_of(rows), description_of(rows, summary), started)
