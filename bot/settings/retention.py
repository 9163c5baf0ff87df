"""How long Tocsin keeps what it records (`retention:`), and how often it prunes the rest.

Every age is a duration (``180d``); ``null`` or ``0`` keeps those rows forever. Deploy and
rollback runs, their approvals, gate decisions, drills and review drafts are the release ledger
and are always kept.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.settings.durations import Duration, format_duration


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


DAY = timedelta(days=1)

# The least each age may be, and why (shown when a configuration asks for less).
_MINIMUM: dict[str, tuple[timedelta, str]] = {
    "incidents": (DAY, "a resolved incident can reopen and its card can still be pressed"),
    "pages": (DAY, "paging rate limits and acknowledge links look back at recent pages"),
    "outbox": (timedelta(hours=1), "they show what went out when a message seems lost"),
    "inbound_events": (
        DAY,
        "platforms re-deliver events for up to an hour (Slack, DingTalk, Feishu, WeCom) and "
        "longer after an outage; a shorter window lets a retried event act twice",
    ),
    "console_messages": (DAY, "the web console shows the last day of each chat"),
    "gate_measurements": (DAY, "a gate's measurements explain its decision"),
    "oncall_history": (DAY, "past overrides and swaps answer who was on call"),
    "maintenance_windows": (DAY, "a recent incident's card names the window it met"),
    "audit_log": (timedelta(days=30), "the audit log is the record of who did what"),
}


class Retention(_Frozen):
    incidents: Duration | None = timedelta(days=180)
    """Resolved incidents are deleted this long after they were resolved, with their alerts,
    card references, escalation, escalation log, pages and digests. Open incidents, and
    those whose card or pages still wait in a queue, are never deleted."""
    pages: Duration | None = timedelta(days=90)
    """Pages (with the phone numbers and addresses they went to) and escalation logs of
    incidents resolved this long ago, when the incident itself is kept longer."""
    outbox: Duration | None = timedelta(days=7)
    """Chat messages delivered or given up this long ago; waiting ones are never deleted."""
    inbound_events: Duration | None = timedelta(days=7)
    """De-duplication records of platform events and used action links (at least 1d, and
    never before an action link could still be opened)."""
    console_messages: Duration | None = timedelta(days=30)
    """Web console messages not changed for this long."""
    gate_measurements: Duration | None = timedelta(days=90)
    """Health-gate samples of gates decided this long ago (the decision itself is kept)."""
    oncall_history: Duration | None = timedelta(days=365)
    """Schedule overrides that ended, and shift swaps decided or lapsed, this long ago."""
    maintenance_windows: Duration | None = timedelta(days=90)
    """Maintenance windows that ended this long ago (incidents they marked stay)."""
    audit_log: Duration | None = None
    """Audit entries older than this; null keeps them forever. Pruning keeps the chain
    verifiable: an anchor holds the last deleted entry's hash (`tocsin audit verify`)."""
    interval: Duration = timedelta(minutes=10)
    """How often the engine prunes (one replica at a time)."""
    batch_size: int = Field(500, ge=10, le=10_000)
    """Rows deleted per statement, each in its own short transaction."""

    @field_validator(*_MINIMUM, mode="after")
    @classmethod
    def _at_least(cls, value: timedelta | None, info: Any) -> timedelta | None:
        if value is None or value == timedelta(0):
            return None
        least, why = _MINIMUM[info.field_name]
        if value < least:
            raise ValueError(
                f"keep these at least {format_duration(least)} (or null to keep them "
                f"forever): {why}"
            )
        return value

    @field_validator("interval", mode="after")
    @classmethod
    def _interval(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("prune at most once a minute (e.g. 10m)")
        return value
