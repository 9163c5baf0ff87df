"""Who a console browser is.

In ``demo`` mode the page says which configured user it is (anyone may pick anyone: the page
says so in a banner). In ``token`` mode the page sends a sign-in token from ``console.tokens``,
compared in constant time against every configured token; tokens shorter than
`MIN_TOKEN_CHARS` are refused at start-up, and failed sign-ins are throttled (see `throttle`).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.errors import AuthenticationError, ConfigError
from bot.model import Sender
from bot.settings.schema import Console, User

MIN_TOKEN_CHARS = 32


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """A configured user as the console knows them."""

    id: str
    name: str
    identity: str
    """The console's platform user id for this person (``identities.console``, else the id)."""
    roles: tuple[str, ...] = ()
    language: str | None = None

    @classmethod
    def from_settings(cls, user: User) -> ConsoleUser:
        return cls(
            id=user.id,
            name=user.name or user.id,
            identity=user.identities.get("console", user.id),
            roles=user.roles,
            language=user.language,
        )

    @property
    def names(self) -> frozenset[str]:
        """Every name a private message to this person may carry."""
        return frozenset({self.id, self.identity})

    def sender(self) -> Sender:
        return Sender(platform="console", platform_user_id=self.identity, display_name=self.name)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "roles": list(self.roles)}


class Directory:
    """The users the console knows and how a browser proves which one it is."""

    def __init__(self, console: Console, users: Sequence[User]) -> None:
        self.mode = console.auth
        short = sorted(u for u, token in console.tokens.items() if len(token) < MIN_TOKEN_CHARS)
        if self.mode == "token" and short:
            raise ConfigError(
                [
                    f"console.tokens: the tokens of {', '.join(short)} are shorter than "
                    f"{MIN_TOKEN_CHARS} characters; make each one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
                ]
            )
        self._users = {user.id: ConsoleUser.from_settings(user) for user in users}
        self._tokens = [
            (token.encode(), user_id) for user_id, token in console.tokens.items() if token
        ]

    @property
    def demo(self) -> bool:
        return self.mode == "demo"

    def users(self) -> list[ConsoleUser]:
        return list(self._users.values())

    def by_id(self, user_id: str) -> ConsoleUser | None:
        return self._users.get(user_id)

    def by_token(self, token: str) -> ConsoleUser | None:
        """The user whose sign-in token is `token`; every token is compared, in constant time."""
        given = token.encode()
        found: str | None = None
        for expected, user_id in self._tokens:
            if hmac.compare_digest(given, expected) and found is None:
                found = user_id
        return self._users.get(found) if found is not None else None

    def claimed(self, hello: Mapping[str, Any]) -> str | None:
        """The configured user a hello says it is (``"user"``), if any; throttling keys on it."""
        user_id = hello.get("user")
        return user_id if isinstance(user_id, str) and user_id in self._users else None

    def sign_in(self, hello: Mapping[str, Any]) -> ConsoleUser:
        """The user a ``hello`` message proves; `AuthenticationError` otherwise."""
        if self.demo:
            user_id = hello.get("user")
            user = self.by_id(user_id) if isinstance(user_id, str) else None
            if user is None:
                raise AuthenticationError("demo mode: pick one of the configured users")
            return user
        token = hello.get("token")
        user = self.by_token(token) if isinstance(token, str) and token else None
        claimed = hello.get("user")
        if user is None or (claimed is not None and claimed != user.id):
            raise AuthenticationError("sign-in token not accepted")
        return user

    def from_bearer(self, authorization: str | None) -> ConsoleUser:
        """The user an ``Authorization: Bearer <token>`` header proves; `AuthenticationError`."""
        scheme, _, token = (authorization or "").partition(" ")
        user = self.by_token(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise AuthenticationError("send Authorization: Bearer <console token>")
        return user
