"""A failed rollback drill pages its service's owner, as an incident raised through the alert
intake.

The latest finished drill of a service in its drill environment tells whether rolling that
service back works. While that drill is a failure, the internal alert `RollbackDrillFailed`
fires for the service and environment; the next drill that passes resolves it. Going through
the intake makes the failure an incident like any other: a card in its route's chats,
de-duplication on the alert's fingerprint (one per service and environment, so repeated
failures stay one incident and page once), its route's escalation policy, `/incident why`.
The alert's `severity` label carries the drill's `page_tier` to the tier rules, and its
`page_owner` label has escalation page the service's owner too (`bot.escalation.plan`).

`DrillPages.reconcile` runs after every drills pass: it compares each drill's latest outcome
with the alert as stored and hands the intake only what differs. So a replica that stops
between ending a drill and raising its alert loses nothing (the next pass, on any replica,
raises it), and replicas raising it at once still make one incident with one set of pages:
the intake locks the alert and its incident, and pages are rows keyed by step and person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.alerts.event import AlertEvent, AlertStatus, label_fingerprint
from bot.alerts.result import IngestResult, is_repeat
from bot.alerts.routing import tier_for
from bot.escalation.plan import OWNER_LABEL
from bot.i18n import t
from bot.model import Tier
from bot.settings import Settings
from bot.store.db import Database
from bot.store.tables import alerts, incidents

log = structlog.get_logger(__name__)

SOURCE, ALERTNAME = "tocsin", "RollbackDrillFailed"


class Intake(Protocol):
    """The alert intake (`IngestService`)."""

    async def ingest(self, events: list[AlertEvent]) -> IngestResult: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the latest finished drill of a service in an environment ended."""

    drill_id: int
    service: str
    environment: str
    failed: bool
    finished_at: datetime
    note: str
    tier: Tier
    """The drill's `page_tier`."""


def drill_alert(outcome: Outcome, lang: str) -> AlertEvent:
    """The alert for an outcome: firing from the moment a drill failed (each failure is a new
    occurrence), resolved when one passed."""
    identity = _identity(outcome.service, outcome.environment)
    key = "drill.alert.failed" if outcome.failed else "drill.alert.passed"
    summary = t(
        key,
        lang,
        id=outcome.drill_id,
        service=outcome.service,
        environment=outcome.environment,
        note=outcome.note,
    )
    return AlertEvent(
        source=SOURCE,
        fingerprint=label_fingerprint(identity),
        status=AlertStatus.FIRING if outcome.failed else AlertStatus.RESOLVED,
        labels=_labels(outcome.service, outcome.environment, outcome.tier),
        annotations={"summary": summary},
        starts_at=outcome.finished_at if outcome.failed else None,
        ends_at=None if outcome.failed else outcome.finished_at,
        group_key="|".join(identity.values()),
    )


def _labels(service: str, environment: str, tier: Tier) -> dict[str, str]:
    """The alert's labels: what routes match on, `severity` for the tier rules (the default
    rules map ``p0``–``p2``; P3 is their default), and the request to page the owner."""
    return {
        **_identity(service, environment),
        "severity": tier.value.lower(),
        OWNER_LABEL: "true",
    }


def _identity(service: str, environment: str) -> dict[str, str]:
    """The labels that tell one drill alert from another, and so make its fingerprint: a
    changed `page_tier` must not start a second incident."""
    return {"alertname": ALERTNAME, "service": service, "environment": environment}


class DrillPages:
    def __init__(self, settings: Settings, db: Database, intake: Intake) -> None:
        self.settings, self.db, self.intake = settings, db, intake
        _warn_about_tier_rules(settings)

    async def reconcile(self, outcomes: Sequence[Outcome]) -> int:
        """Raise or resolve the alerts that differ from `outcomes` (call it outside any
        transaction: the intake runs its own); returns how many went to the intake."""
        events = [drill_alert(o, self.settings.tocsin.language) for o in outcomes]
        async with self.db.connect() as conn:
            news = [event for event in events if await _is_news(conn, event)]
        if news:
            await self.intake.ingest(news)
        return len(news)


async def _is_news(conn: AsyncConnection, event: AlertEvent) -> bool:
    """Whether the intake would change anything, by the rule it applies itself, read without
    locks: an outcome that stands is not sent again on every pass (nor counted as received)."""
    stored = (
        await conn.execute(
            select(alerts.c.status, alerts.c.starts_at, incidents.c.status.label("incident"))
            .join(incidents, incidents.c.id == alerts.c.incident_id)
            .where(and_(alerts.c.source == event.source, alerts.c.fingerprint == event.fingerprint))
        )
    ).first()
    if stored is None:
        return event.status == AlertStatus.FIRING
    return not is_repeat(event, stored.status, stored.starts_at, stored.incident)


def _warn_about_tier_rules(settings: Settings) -> None:
    """Custom tier rules may tier a drill's alert otherwise than its `page_tier` says; its owner
    would then be paged on that tier's channels. Say so once, at start-up."""
    for service, drill in settings.deploy.drills.items():
        tier = tier_for(_labels(service, drill.environment, drill.page_tier), settings)
        if tier != drill.page_tier:
            log.warning(
                "tiers.rules give a failed drill's incident another tier than its page_tier",
                service=service,
                page_tier=drill.page_tier.value,
                tier=tier.value,
                severity=drill.page_tier.value.lower(),
            )
