"""Import from Opsgenie (REST API v2, or a folder of its answers): users, teams, schedules with
their rotations and overrides, escalations, and team routing rules that route one service to
an escalation. See docs/import-opsgenie.md for what maps how and what cannot be carried."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from adapters.migrate.opsgenie.escalations import Escalations
from adapters.migrate.opsgenie.people import read_people, read_teams
from adapters.migrate.opsgenie.routing import read_routes
from adapters.migrate.opsgenie.schedules import read_schedules
from adapters.migrate.opsgenie.timeline import read_on_call
from bot.migrate.catalog import Catalog, Shift
from bot.migrate.reader import Reader


class Opsgenie:
    name = "opsgenie"
    title = "Opsgenie"
    default_url: str | None = "https://api.opsgenie.com"
    """The EU instance is https://api.eu.opsgenie.com (pass it as --url)."""

    def headers(self, token: str) -> Mapping[str, str]:
        return {"Authorization": f"GenieKey {token}", "Accept": "application/json"}

    async def catalog(self, reader: Reader, now: datetime) -> Catalog:
        catalog = Catalog(vendor=self.name)
        await read_people(reader, catalog)
        await read_teams(reader, catalog)
        await read_schedules(reader, catalog, now)
        await Escalations(catalog).read(reader)
        await read_routes(reader, catalog)
        return catalog

    async def on_call(
        self, reader: Reader, catalog: Catalog, schedule: str, start: datetime, end: datetime
    ) -> list[Shift]:
        return await read_on_call(reader, catalog, schedule, start, end)


VENDOR = Opsgenie()
