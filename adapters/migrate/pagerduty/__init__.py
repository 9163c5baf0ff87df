"""PagerDuty (REST API v2): users, teams, schedules, escalation policies and services become a
`Catalog`; PagerDuty's rendered final schedule is the on-call record `tocsin import verify`
compares with. What is read, and how each concept maps, is in docs/import-pagerduty.md."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from adapters.migrate.pagerduty.people import read_people, read_teams
from adapters.migrate.pagerduty.policies import read_policies, read_services
from adapters.migrate.pagerduty.schedules import final_schedule, read_schedules
from bot.migrate.catalog import Catalog, Shift
from bot.migrate.reader import Reader


class PagerDuty:
    name = "pagerduty"
    title = "PagerDuty"
    default_url: str | None = "https://api.pagerduty.com"
    """The EU service region answers at https://api.eu.pagerduty.com."""

    def headers(self, token: str) -> Mapping[str, str]:
        """A REST API key as PagerDuty wants it, and the v2 media type."""
        return {
            "Authorization": f"Token token={token}",
            "Accept": "application/vnd.pagerduty+json;version=2",
        }

    async def catalog(self, reader: Reader, now: datetime) -> Catalog:
        """People first: layers naming users PagerDuty no longer lists are reported."""
        found = Catalog(vendor=self.name)
        await read_people(reader, found)
        await read_teams(reader, found)
        await read_schedules(reader, found, now)
        await read_policies(reader, found)
        await read_services(reader, found)
        return found

    async def on_call(
        self, reader: Reader, catalog: Catalog, schedule: str, start: datetime, end: datetime
    ) -> list[Shift]:
        return await final_schedule(reader, schedule, start, end)


VENDOR = PagerDuty()
