"""Reading Grafana OnCall (public API v1, or a folder of its JSON) for `tocsin import oncall`.

The API has no fixed address (Grafana Cloud gives each stack its own, a self-hosted OnCall is
wherever it runs); the token goes bare in the ``Authorization`` header. Paths end with a
slash, lists come in pages linked by ``next``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from adapters.migrate.oncall.chains import read_chains, read_routing
from adapters.migrate.oncall.pages import Found, listing
from adapters.migrate.oncall.rotas import read_rotas
from bot.migrate.catalog import Catalog, Person, Shift, Team
from bot.migrate.reader import ImportFailed, Reader
from bot.migrate.shape import arr, instant, text

API = "/api/v1"
PATHS = {
    "users": f"{API}/users/",
    "teams": f"{API}/teams/",
    "schedules": f"{API}/schedules/",
    "shifts": f"{API}/on_call_shifts/",
    "chains": f"{API}/escalation_chains/",
    "policies": f"{API}/escalation_policies/",
    "integrations": f"{API}/integrations/",
    "routes": f"{API}/routes/",
}


class GrafanaOnCall:
    name = "oncall"
    title = "Grafana OnCall"
    default_url: str | None = None

    def headers(self, token: str) -> Mapping[str, str]:
        """OnCall takes the token itself as the header's value, without a scheme word."""
        return {"Authorization": token, "Accept": "application/json"}

    async def catalog(self, reader: Reader, now: datetime) -> Catalog:
        found = {key: await listing(reader, path) for key, path in PATHS.items()}
        catalog = Catalog(vendor=self.name)
        _people(found["users"], catalog)
        _teams(found["teams"], found["users"], catalog)
        read_rotas(found["schedules"], found["shifts"], now, catalog)
        read_chains(found["chains"], found["policies"], catalog)
        read_routing(found["integrations"], found["routes"], catalog)
        if catalog.people:
            catalog.skip(
                "notification rules",
                "personal_notification_rules",
                "every user",
                "user notification rules: Tocsin pages by tier, see paging.channels",
            )
        return catalog

    async def on_call(
        self, reader: Reader, catalog: Catalog, schedule: str, start: datetime, end: datetime
    ) -> list[Shift]:
        """``GET /api/v1/schedules/<id>/final_shifts`` over the UTC dates [start, end] (both
        inclusive for OnCall), clipped to [start, end)."""
        params = {
            "start_date": start.astimezone(UTC).date().isoformat(),
            "end_date": end.astimezone(UTC).date().isoformat(),
        }
        path = f"{API}/schedules/{schedule}/final_shifts"
        shifts = []
        for data, where in await listing(reader, path, params):
            shift = _final_shift(data, where, catalog, start, end)
            if shift is not None:
                shifts.append(shift)
        return sorted(shifts, key=lambda s: (s.start, s.end, s.person))


def _people(users: list[Found], catalog: Catalog) -> None:
    for data, where in users:
        username = text(data, "username", where, default="")
        origin = text(data, "id", where)
        zone = data.get("timezone")
        catalog.people.append(
            Person(
                origin=origin,
                name=text(data, "name", where, default="") or username or origin,
                email=text(data, "email", where, default=""),
                time_zone=text(data, "timezone", where) if zone is not None else None,
            )
        )


def _teams(teams: list[Found], users: list[Found], catalog: Catalog) -> None:
    """OnCall lists a team's members on the users (their ``teams``), not on the team."""
    members: dict[str, list[str]] = {}
    for data, where in users:
        for index, team in enumerate(arr(data.get("teams") or [], f"{where}.teams")):
            if not isinstance(team, str):
                raise ImportFailed(f"{where}.teams[{index}]: expected a team id, found {team!r}")
            members.setdefault(team, []).append(text(data, "id", where))
    for data, where in teams:
        origin = text(data, "id", where)
        catalog.teams.append(
            Team(
                origin=origin,
                name=text(data, "name", where),
                members=tuple(members.get(origin, [])),
            )
        )


def _final_shift(
    data: dict[str, Any], where: str, catalog: Catalog, start: datetime, end: datetime
) -> Shift | None:
    begin = max(instant(data.get("shift_start"), f"{where}.shift_start"), start)
    finish = min(instant(data.get("shift_end"), f"{where}.shift_end"), end)
    if begin >= finish:
        return None
    return Shift(
        start=begin.astimezone(UTC),
        end=finish.astimezone(UTC),
        person=_person(data, where, catalog),
    )


def _person(data: dict[str, Any], where: str, catalog: Catalog) -> str:
    """The person's origin id; their e-mail address when OnCall names someone not listed."""
    pk = data.get("user_pk")
    if isinstance(pk, str) and catalog.person(pk) is not None:
        return pk
    email = text(data, "user_email", where, default="")
    known = catalog.by_email(email) if email else None
    if known is not None:
        return known.origin
    if not email and not isinstance(pk, str):
        raise ImportFailed(f"{where}: names nobody (no user_pk, no user_email)")
    return email or str(pk)


VENDOR = GrafanaOnCall()
