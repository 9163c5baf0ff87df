"""`AlertEvent`: one alert from any source, normalised."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A normalised alert.

    `fingerprint` identifies the alert across deliveries (the source's own when it has one, else
    `label_fingerprint(labels)`). `group_key` is the source's grouping (Alertmanager's groupKey)
    or empty, in which case the route's `group_by` labels decide.
    """

    source: str
    fingerprint: str
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""
    group_key: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "") or self.annotations.get("summary", "") or "alert"

    @property
    def summary(self) -> str:
        return (
            self.annotations.get("summary")
            or self.annotations.get("description")
            or self.annotations.get("message")
            or self.name
        )


def label_fingerprint(labels: dict[str, str]) -> str:
    """A stable 16-hex-digit fingerprint of a label set (order-independent)."""
    digest = hashlib.sha256()
    for key in sorted(labels):
        digest.update(key.encode())
        digest.update(b"\xff")
        digest.update(labels[key].encode())
        digest.update(b"\xff")
    return digest.hexdigest()[:16]
