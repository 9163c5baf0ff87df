"""The people Tocsin knows, built once from settings."""

from __future__ import annotations

from dataclasses import dataclass

from bot.authz.grants import Grant, parse_grant
from bot.settings.schema import Settings


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    language: str | None
    roles: tuple[str, ...]
    grants: tuple[Grant, ...]
    identities: dict[str, str]

    def may(self, action: str, service: str = "*", environment: str = "*") -> bool:
        """True when some grant covers the action on this service and environment.

        A wildcard scope ("*") asks "on anything at all?", used by /help to list commands.
        """
        for grant in self.grants:
            if grant.action not in ("*", action):
                continue
            if service != "*" and grant.service not in ("*", service):
                continue
            if environment != "*" and grant.environment not in ("*", environment):
                continue
            return True
        return False

    @property
    def display(self) -> str:
        return self.name or self.id


class Directory:
    def __init__(self, settings: Settings) -> None:
        self._people: dict[str, Person] = {}
        self._by_identity: dict[tuple[str, str], Person] = {}
        for user in settings.users:
            grants = tuple(
                parse_grant(g) for role in user.roles for g in settings.roles[role].grants
            )
            person = Person(
                id=user.id,
                name=user.name,
                language=user.language,
                roles=user.roles,
                grants=grants,
                identities=dict(user.identities),
            )
            self._people[user.id] = person
            for platform, platform_id in user.identities.items():
                self._by_identity[(platform, platform_id)] = person

    def get(self, user_id: str) -> Person | None:
        return self._people.get(user_id)

    def by_identity(self, platform: str, platform_user_id: str) -> Person | None:
        """The person behind a platform user id; platform "tocsin" names Tocsin's own user ids
        (people identified by Tocsin itself, e.g. through a signed link or a sign-in)."""
        if platform == "tocsin":
            return self._people.get(platform_user_id)
        return self._by_identity.get((platform, platform_user_id))

    def people(self) -> list[Person]:
        return list(self._people.values())
