"""Helpers for the web console tests: users, a recording inbound handler, a console app.

Everything here is a small fake or a real object: a real SQLite database, the real
`ConsolePlatform`, `ConsoleHub` and routes, and `RecordingInbound` standing in for the dispatcher.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from adapters.chat.console import ConsoleHub, ConsolePlatform, console_routes
from bot.clock import FakeClock
from bot.metrics import Metrics
from bot.model import (
    ActionKind,
    Badge,
    Button,
    ButtonStyle,
    Card,
    CardActionRequest,
    CommandRequest,
    Destination,
    Field,
    Reply,
    Tier,
    Tone,
)
from bot.ports import PostedRef
from bot.prefs import set_language, set_timezone, user_scope
from bot.settings.schema import Console, User
from bot.store.db import Database
from bot.store.tables import metadata

with warnings.catch_warnings():
    # starlette 1.x asks for httpx2 under its TestClient; the project pins httpx, which works.
    warnings.filterwarnings("ignore", "Using `httpx`", StarletteDeprecationWarning)
    from starlette.testclient import TestClient, WebSocketTestSession

__all__ = ["TestClient", "WebSocketTestSession"]

USERS = (
    User(id="alice", name="Alice Chen", roles=("oncall",)),
    User(id="bob", name="Bob", identities={"console": "U-bob"}, roles=("lead",)),
    User(id="wang", name="王芳"),
)
TOKENS = {
    "alice": "alice-sign-in-token-0001-abcdefghijklmnop",
    "bob": "bob-sign-in-token-0002-abcdefghijklmnopq",
}
CHATS = ("ops", "payments")


def incident_card(number: int = 42, tier: Tier = Tier.P0, status: str = "Firing") -> Card:
    """An alert card like the core posts: Acknowledge, and Rollback behind a confirmation."""
    return Card(
        ref=f"incident:{number}",
        title=f"#{number} orders: error rate 12% (订单错误率)",
        tier=tier,
        status=status,
        fields=(Field("Service", "orders"), Field("Environment", "prod")),
        body="5xx rate above 5% for 5 minutes after deploy v1.4.2",
        buttons=(
            Button("Acknowledge", ActionKind.ACK, style=ButtonStyle.PRIMARY),
            Button(
                "Rollback",
                ActionKind.ROLLBACK,
                value="orders:prod",
                style=ButtonStyle.DANGER,
                confirm="Roll back orders in prod?",
            ),
            Button("Silence 30m", ActionKind.SILENCE, value="30m"),
        ),
        footer="alertmanager · fingerprint 3f2a",
    )


class RecordingInbound:
    """An `InboundHandler` that records what reaches it and answers by simple rules.

    Commands: ``/whoami`` gets a private reply, ``/boom`` raises, ``/card`` answers with a card,
    ``/lang zh`` and ``/tz Asia/Shanghai`` store the sender's choice as the core's ``/lang``
    does, anything else gets ``ok: <text>``. A button press on a card registered in `posted` updates
    that card to "Acknowledged by <name>" through the platform, as the core would.
    """

    def __init__(self) -> None:
        self.commands: list[CommandRequest] = []
        self.actions: list[CardActionRequest] = []
        self.platform: ConsolePlatform | None = None
        self.posted: dict[str, tuple[Destination, PostedRef, Card]] = {}

    async def post(self, dest: Destination, card: Card) -> int:
        """Post `card` through the platform and remember it, as the outbox would."""
        assert self.platform is not None
        ref = await self.platform.post_card(dest, card, lang="en")
        self.posted[card.ref] = (dest, ref, card)
        return int(ref.data["message_id"])

    async def command(self, request: CommandRequest) -> Reply:
        self.commands.append(request)
        word = request.text.split()[0]
        if word == "/whoami":
            return Reply(f"you are {request.sender.display_name}", private=True)
        if word == "/boom":
            raise RuntimeError("boom")
        if word == "/card":
            return Reply("here is the card", card=incident_card(7, Tier.P2))
        if word in ("/lang", "/tz") and self.platform is not None:
            await self._choose(request, word, request.text.split()[-1])
        return Reply(f"ok: {request.text}")

    async def _choose(self, request: CommandRequest, word: str, choice: str) -> None:
        assert self.platform is not None
        db = self.platform.db
        [user] = [
            u.id
            for u in USERS
            if u.identities.get("console", u.id) == request.sender.platform_user_id
        ]
        store = set_language if word == "/lang" else set_timezone
        async with db.begin() as conn:
            await store(db, conn, user_scope(user), choice)

    async def action(self, request: CardActionRequest) -> Reply:
        self.actions.append(request)
        if self.platform is not None and request.card_ref in self.posted:
            dest, ref, card = self.posted[request.card_ref]
            acked = dataclasses.replace(
                card,
                status=f"Acknowledged by {request.sender.display_name}",
                badge=Badge(f"Acknowledged by {request.sender.display_name}", Tone.WORKING),
                buttons=(Button("Resolve", ActionKind.RESOLVE, style=ButtonStyle.PRIMARY),),
            )
            await self.platform.update_card(dest, ref, acked, lang="en")
            self.posted[request.card_ref] = (dest, ref, acked)
        return Reply(f"{request.action.value} by {request.sender.display_name}")


@dataclass
class ConsoleApp:
    """A console wired like bootstrap would, as one Starlette app."""

    app: Starlette
    platform: ConsolePlatform
    hub: ConsoleHub
    db: Database
    inbound: RecordingInbound
    clock: FakeClock
    demo_alerts: list[str]


def build_console(
    tmp_path: Path,
    *,
    auth: Literal["demo", "token"] = "demo",
    demo_alert: bool = True,
    url: str | None = None,
    metrics: Metrics | None = None,
    language: str = "en",
) -> ConsoleApp:
    """The app; its lifespan creates the tables (on SQLite: give `url` for a database whose
    schema is already there) and disposes of the database."""
    db = Database(url or f"sqlite+aiosqlite:///{tmp_path / 'console.db'}")
    clock = FakeClock()
    hub = ConsoleHub()
    platform = ConsolePlatform(db, clock, hub, chats=CHATS)
    inbound = RecordingInbound()
    inbound.platform = platform
    fired: list[str] = []

    async def fire() -> str:
        number = 100 + len(fired)
        await inbound.post(Destination("console", "ops"), incident_card(number))
        fired.append(f"incident:{number}")
        return f"incident #{number} opened"

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if url is None:
            async with db.engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
        try:
            yield
        finally:
            hub.close_all()
            await db.dispose()

    settings = Console(enabled=True, auth=auth, chats=CHATS, tokens=TOKENS)
    demo: Callable[[], Awaitable[str]] | None = fire if demo_alert else None
    routes = console_routes(
        platform, hub, inbound, settings, USERS, clock, demo, metrics, default_language=language
    )
    app = Starlette(routes=routes, lifespan=lifespan)
    return ConsoleApp(app, platform, hub, db, inbound, clock, fired)
