"""Settings for what watches the watchers: maintenance windows (recurring ones, and those deploys
open) and heartbeats (the endpoint's, and Alertmanager's always-firing Watchdog alert).
The code that reads them lives in `bot.maintenance` and `bot.heartbeats`."""

from __future__ import annotations

from datetime import time, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.alerts.matchers import parse_matcher
from bot.model import Tier
from bot.settings.durations import Duration
from bot.settings.oncall import WEEKDAYS, TimeZone, Weekday
from bot.settings.sourceauth import SourceAuth

NAME = r"^[a-z0-9][a-z0-9_-]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class RecurringWindow(_Frozen):
    """A maintenance window that comes back: on each listed day from `start` to `end` in
    `time_zone` (local wall-clock times, as schedule restrictions read them: `end` at or before
    `start` closes it the next day)."""

    name: str = Field(pattern=NAME)
    service: str = "*"
    environment: str = "*"
    time_zone: TimeZone = "UTC"
    days: tuple[Weekday, ...] = WEEKDAYS
    start: time
    end: time
    reason: str = ""


class DeployWindows(_Frozen):
    """Deploys and rollbacks open a window for their service and environment while they run,
    plus `grace` after they end (alerts then read "during deploy of vX by Y")."""

    enabled: bool = False
    grace: Duration = timedelta(minutes=5)
    services: tuple[str, ...] = ()
    """Only these services (empty: every service)."""


class Maintenance(_Frozen):
    windows: tuple[RecurringWindow, ...] = ()
    page_tiers: tuple[Tier, ...] = (Tier.P0,)
    """Tiers that still page during a window (their cards carry the maintenance mark too)."""
    deploys: DeployWindows = DeployWindows()
    max_duration: Duration = timedelta(days=7)
    """The longest window `/maint start` opens."""

    @model_validator(mode="after")
    def _unique(self) -> Maintenance:
        names = [w.name for w in self.windows]
        if len(names) != len(set(names)):
            raise ValueError("maintenance.windows: window names must be unique")
        return self


class Watchdog(_Frozen):
    """An always-firing alert from an Alertmanager source that counts as a beat (and never
    opens an incident of its own)."""

    source: str
    """The name of a source of kind `alertmanager`."""
    matchers: tuple[str, ...] = ('alertname="Watchdog"',)

    @model_validator(mode="after")
    def _parse(self) -> Watchdog:
        for text in self.matchers:
            parse_matcher(text)
        return self


class Heartbeat(_Frozen):
    """A beat expected every `interval`; none for `interval + grace` opens an incident routed by
    `labels` like any alert, resolved when beats return."""

    interval: Duration
    grace: Duration = timedelta(minutes=1)
    auth: SourceAuth | None = None
    """`POST /api/v1/heartbeats/<name>` credentials, as a source's `auth` (a bearer token, a
    token in the URL, or HMAC)."""
    watchdog: Watchdog | None = None
    labels: dict[str, str] = {}
    """Labels of the blind-monitoring alert (``service``, ``severity`` → tier, ``team``…)."""
    summary: str = ""
