"""Scheduled reports (`reports:`): the weekly noise report posted as a card to chosen chats."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bot.model import Destination
from bot.settings.durations import Duration
from bot.settings.oncall import TimeZone, Weekday


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


def _dest(value: Any) -> Destination:
    return value if isinstance(value, Destination) else Destination.parse(str(value))


class WeeklyNoise(_Frozen):
    """The noise report of the period just ended, posted each week on `day` at `at` (wall
    time in `time_zone`) to `chats`, each in its own language."""

    chats: tuple[Annotated[Destination, BeforeValidator(_dest)], ...] = Field(min_length=1)
    day: Weekday = "mon"
    at: time = time(9, 0)
    time_zone: TimeZone | None = None
    """Defaults to `tocsin.timezone`."""
    period: Duration = timedelta(days=7)
    services: tuple[str, ...] = ()
    """Only these services (default: all)."""


class Reports(_Frozen):
    noise: WeeklyNoise | None = None
