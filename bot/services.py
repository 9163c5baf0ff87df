"""The services a command or card action may use, built once by `bootstrap`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection
from typing_extensions import TypeVar

from bot.alerts.seen import SeenCounts
from bot.authz import Directory, Person
from bot.clock import Clock
from bot.deploys.service import RunDesk
from bot.escalation.engine import Escalator
from bot.grammar import CommandSpec, ParsedCommand
from bot.incidents.aggregate import Incident
from bot.incidents.service import IncidentService, Outcome
from bot.metrics import Metrics
from bot.model import ActionKind, Destination, Reply
from bot.oncall.service import OnCallService
from bot.outbox.enqueue import Outbox
from bot.settings import Settings
from bot.store.db import Database


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    clock: Clock
    directory: Directory
    incidents: IncidentService
    outbox: Outbox
    metrics: Metrics
    registry: Registry
    actions: Actions
    seen: SeenCounts
    oncall: OnCallService
    escalator: Escalator
    runs: RunDesk


S = TypeVar("S", covariant=True, default=Services)


@dataclass(frozen=True, slots=True)
class Context(Generic[S]):
    """Everything a handler sees: one transaction, the person, their language and the chat,
    and the services. A command module declares the few services it uses as a Protocol and
    takes ``Context[ItsProtocol]``: mypy then refuses any other service it reaches for, while
    the dispatcher passes the whole `Services`, which has them all."""

    conn: AsyncConnection
    person: Person
    lang: str
    chat: Destination
    now: datetime
    services: S
    tz: str = "UTC"
    """The IANA zone the person reads times in (`/tz`, else the chat's, else the default)."""
    via: str = ""
    """How a card action came when not by the chat's button (`CardActionRequest.via`)."""


class Actions(Protocol):
    """Runs an authorized card action on a locked incident (the dispatcher does)."""

    async def perform(
        self, ctx: Context[object], incident: Incident, kind: ActionKind, value: str
    ) -> Outcome: ...


Scope = tuple[str, str]
"""(service, environment) an action touches; "" means none, "*" any."""

Handler = Callable[[Context, ParsedCommand], Awaitable[Reply]]
Scoper = Callable[[Context, ParsedCommand], Awaitable[Scope]]


async def _anywhere(_ctx: Context, _cmd: ParsedCommand) -> Scope:
    return ("*", "*")


@dataclass(frozen=True, slots=True)
class Command:
    spec: CommandSpec
    handler: Handler
    scope: Scoper = _anywhere


@dataclass(slots=True)
class Registry:
    commands: dict[str, Command] = field(default_factory=dict)

    def add(self, command: Command) -> None:
        for word in (command.spec.name, *command.spec.aliases):
            if word in self.commands:
                raise ValueError(f"command {word!r} is registered twice")
            self.commands[word] = command

    @property
    def specs(self) -> dict[str, CommandSpec]:
        return {word: command.spec for word, command in self.commands.items()}

    def get(self, word: str) -> Command:
        return self.commands[word]
