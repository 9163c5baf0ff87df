"""What an ingest did, and the rule that tells a repeat from news."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.alerts.batch import Rejected
from bot.alerts.event import AlertEvent, AlertStatus
from bot.incidents.status import Status


@dataclass(slots=True)
class IngestResult:
    received: int = 0
    deduplicated: int = 0
    opened: int = 0
    updated: int = 0
    resolved: int = 0
    ignored: int = 0
    unrouted: int = 0
    incident_ids: list[int] = field(default_factory=list)
    urgent: bool = False
    """Something must reach a chat now (a new incident, a state change), not just soon."""
    rejected: list[Rejected] = field(default_factory=list)
    """Alerts the store refused alone; the rest of the request was stored."""

    def add(self, other: IngestResult) -> None:
        """Count what another (committed) part of the same request did."""
        for name in ("deduplicated", "opened", "updated", "resolved", "ignored", "unrouted"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        known = set(self.incident_ids)
        self.incident_ids += [i for i in other.incident_ids if i not in known]
        self.urgent = self.urgent or other.urgent
        self.rejected += other.rejected


def is_repeat(
    event: AlertEvent, status: str, starts_at: datetime | None, incident_status: str
) -> bool:
    """A re-delivery of what is known. Among same-status deliveries only a new occurrence
    (another start time) of an alert whose incident was resolved by hand is news."""
    if event.status != status:
        return False
    same_occurrence = event.starts_at is None or starts_at == event.starts_at
    return (
        event.status == AlertStatus.RESOLVED
        or same_occurrence
        or incident_status != Status.RESOLVED
    )
