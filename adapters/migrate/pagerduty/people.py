"""PagerDuty users and teams: ``GET /users`` (with their contact methods and notification rules
in the same pages) and ``GET /teams`` with ``GET /teams/{id}/members``."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.migrate.pagerduty.api import listing, reference
from bot.migrate.catalog import Catalog, Person, Team
from bot.migrate.reader import Reader
from bot.migrate.shape import arr, number, obj, text

_PHONES = ("phone_contact_method", "sms_contact_method")


async def read_people(reader: Reader, catalog: Catalog) -> None:
    """Users become people; their notification rules are reported, since Tocsin chooses
    channels by an incident's tier, not per person and urgency."""
    params = {"include[]": ["contact_methods", "notification_rules"]}
    for index, user in enumerate(await listing(reader, "/users", "users", params)):
        where = f"/users: users[{index}]"
        person = Person(
            origin=text(user, "id", where),
            name=text(user, "name", where),
            email=text(user, "email", where, default=""),
            time_zone=_zone(text(user, "time_zone", where, default="")),
            phone=_phone(arr(user.get("contact_methods") or [], f"{where}.contact_methods"), where),
        )
        catalog.people.append(person)
        _report_rules(user, person, where, catalog)


def _zone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def _phone(methods: list[Any], where: str) -> str | None:
    """The first phone or SMS number as E.164 (PagerDuty keeps the country code apart)."""
    for index, method in enumerate(methods):
        spot = f"{where}.contact_methods[{index}]"
        entry = obj(method, spot)
        if entry.get("type") not in _PHONES:
            continue
        digits = text(entry, "address", spot)
        code = number(entry, "country_code", spot, default=0)
        if code and digits.isdigit():
            return f"+{code}{digits}"
    return None


def _report_rules(user: dict[str, Any], person: Person, where: str, catalog: Catalog) -> None:
    rules = arr(user.get("notification_rules") or [], f"{where}.notification_rules")
    if rules:
        catalog.skip(
            "notification rules",
            person.origin,
            person.name,
            f"{len(rules)} personal notification rule(s) (which contact method, how many minutes"
            " after an incident, by urgency): Tocsin pages by the incident's tier, see"
            " paging.channels and the user's contact.notify",
        )


async def read_teams(reader: Reader, catalog: Catalog) -> None:
    for index, team in enumerate(await listing(reader, "/teams", "teams")):
        where = f"/teams: teams[{index}]"
        origin = text(team, "id", where)
        path = f"/teams/{origin}/members"
        members = [
            reference(member.get("user"), f"{path}: members[{position}].user")
            for position, member in enumerate(await listing(reader, path, "members"))
        ]
        catalog.teams.append(Team(origin, text(team, "name", where), tuple(members)))
