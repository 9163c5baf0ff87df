"""A request's alerts as parsed: the ones to ingest, and the ones refused alone.

One malformed or unstorable alert never costs the others of its request: a parser puts it in
`rejected` with the reason, the rest go on, and the answer names what was refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.alerts.event import AlertEvent
from bot.errors import InputError


@dataclass(frozen=True, slots=True)
class Rejected:
    """An alert refused alone. `where` is its place in the body (``alerts[3]``), `reason` a
    short word for metrics (``malformed``, ``unstorable``), `error` what to fix."""

    where: str
    reason: str
    error: str
    fingerprint: str = ""
    name: str = ""

    def as_json(self) -> dict[str, str]:
        shown = {"where": self.where, "reason": self.reason, "error": self.error}
        if self.fingerprint:
            shown["fingerprint"] = self.fingerprint
        if self.name:
            shown["alertname"] = self.name
        return shown


@dataclass(slots=True)
class Parsed:
    events: list[AlertEvent] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    truncated: int = 0
    """Alerts the sender left out of the body (Alertmanager's `truncatedAlerts`)."""

    def strict(self) -> list[AlertEvent]:
        """The events, or `InputError` with the first refusal (for callers wanting all or
        nothing)."""
        if self.rejected:
            raise InputError(self.rejected[0].error)
        return self.events
