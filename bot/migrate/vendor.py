"""The tools Tocsin imports from. Each is a module of `adapters.migrate` offering `VENDOR`, an
object with this shape; the rest of `bot.migrate` never looks at a vendor's JSON."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from bot.migrate.catalog import Catalog, Shift
from bot.migrate.reader import Reader

NAMES = ("opsgenie", "oncall", "pagerduty")


class Vendor(Protocol):
    name: str
    """The command's word: opsgenie, oncall, pagerduty."""
    title: str
    """The tool's name in messages: "Opsgenie", "Grafana OnCall", "PagerDuty"."""
    default_url: str | None
    """The API's base URL when the tool has one (a self-hosted Grafana OnCall has none)."""

    def headers(self, token: str) -> Mapping[str, str]:
        """The request headers that carry `token` the way the API wants it."""
        ...

    async def catalog(self, reader: Reader, now: datetime) -> Catalog:
        """Everything importable (and what is not, in `Catalog.skipped`); overrides ending
        before `now` are left out."""
        ...

    async def on_call(
        self, reader: Reader, catalog: Catalog, schedule: str, start: datetime, end: datetime
    ) -> list[Shift]:
        """Who the tool itself puts on call in schedule `schedule` (an origin id) over
        [start, end), overrides included, from its final-schedule or on-call API."""
        ...


def vendor(name: str) -> Vendor:
    if name not in NAMES:
        raise ValueError(f"unknown tool {name!r} (one of {', '.join(NAMES)})")
    module = importlib.import_module(f"adapters.migrate.{name}")
    found: Vendor = module.VENDOR
    return found
