"""Users (`/v2/users`) and teams (`/v2/teams`, members from `/v2/teams/{id}`). An Opsgenie
username is the person's e-mail address, which is how they are matched with Tocsin users."""

from __future__ import annotations

from typing import Any

from adapters.migrate.opsgenie.api import PAGE_SIZE, data, listing
from bot.migrate.catalog import Catalog, Person, Team
from bot.migrate.reader import Reader
from bot.migrate.shape import arr, obj, text


async def read_people(reader: Reader, catalog: Catalog) -> None:
    users = await listing(reader, "/v2/users", {"limit": PAGE_SIZE, "offset": 0})
    for i, raw in enumerate(users):
        catalog.people.append(_person(obj(raw, f"/v2/users data[{i}]"), f"/v2/users data[{i}]"))
    catalog.skip(
        "notification rules",
        "",
        "every user",
        "user notification rules are not read: Tocsin pages by the incident's tier, "
        "see paging.channels and each user's contact.notify",
    )


def _person(user: dict[str, Any], where: str) -> Person:
    username = text(user, "username", where)
    zone = user.get("timeZone")
    return Person(
        origin=text(user, "id", where),
        name=text(user, "fullName", where, default=username),
        email=username,
        time_zone=text(user, "timeZone", where) if zone is not None else None,
    )


async def read_teams(reader: Reader, catalog: Catalog) -> None:
    teams = arr(await data(reader, "/v2/teams"), "/v2/teams.data")
    for i, raw in enumerate(teams):
        where = f"/v2/teams data[{i}]"
        origin = text(obj(raw, where), "id", where)
        path = f"/v2/teams/{origin}"
        team = obj(await data(reader, path, {"identifierType": "id"}), f"{path}.data")
        catalog.teams.append(
            Team(
                origin=origin,
                name=text(team, "name", f"{path}.data"),
                members=_members(team.get("members"), catalog, f"{path}.data.members"),
            )
        )


def _members(raw: Any, catalog: Catalog, where: str) -> tuple[str, ...]:
    """Member user ids (a member known only by username is looked up by e-mail)."""
    if raw is None:
        return ()
    found: list[str] = []
    for i, member in enumerate(arr(raw, where)):
        user = obj(obj(member, f"{where}[{i}]").get("user"), f"{where}[{i}].user")
        found.append(person_id(user, catalog, f"{where}[{i}].user"))
    return tuple(found)


def person_id(user: dict[str, Any], catalog: Catalog, where: str) -> str:
    """The origin id of a user reference ``{"id": …, "username": …}``: its id, else the listed
    person with that username, else the username itself."""
    if user.get("id") is not None:
        return text(user, "id", where)
    username = text(user, "username", where)
    person = catalog.by_email(username)
    return person.origin if person is not None else username
