"""Helpers for the DingTalk tests: settings on the fake, recorded payloads made into new ones,
signed HTTP-mode requests, and the database state tests assert on."""

from __future__ import annotations

import asyncio
import json
from itertools import count
from pathlib import Path
from typing import Any

from fake_dingtalk import CLIENT_ID, CLIENT_SECRET, ROBOT_SECRET, FakeDingTalkApi
from sqlalchemy import select

from adapters.chat.dingtalk import DingTalkAdapter
from adapters.chat.dingtalk.signing import sign
from bot.bootstrap import Tocsin
from bot.dispatch import Dispatcher
from bot.inbox import Request, Resume
from bot.model import CardActionRequest, CommandRequest, Reply
from bot.settings import Settings, parse_settings
from bot.store.tables import audit_log, card_posts, inbox, incidents
from tests.support import base_config

DATA = Path(__file__).parent / "data"
GROUP = "cidOPS=="
TEMPLATE = "tocsin-alert-test.schema"
ALICE, BOB, CAROL = "alice4220", "bob1001", "carol2002"
_ids = count(1)


def recorded(name: str) -> dict[str, Any]:
    """A recorded payload from `data/` (a copy, without its ``_comment``)."""
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    data.pop("_comment", None)
    return data


def section(api: FakeDingTalkApi, **overrides: Any) -> dict[str, Any]:
    """The ``dingtalk:`` section on the fake, with short Stream timings."""
    raw: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "mode": "stream",
        "card_template_id": TEMPLATE,
        "api_url": api.base_url,
        "oapi_url": api.base_url,
        "local_ip": "127.0.0.1",
        "rate_per_second": 50,
        "burst": 50,
        "robots": {"ops": {"webhook": api.robot_webhook(), "secret": ROBOT_SECRET}},
        "ping_interval": "1s",
        "liveness_timeout": "5s",
        "open_timeout": "5s",
        "reconnect_min": "20ms",
        "reconnect_max": "100ms",
        "timeout": "5s",
    }
    raw.update(overrides)
    return raw


def config(
    api: FakeDingTalkApi, *, destinations: tuple[str, ...] = (f"dingtalk:{GROUP}",), **dingtalk: Any
) -> dict[str, Any]:
    """Tocsin's settings with a ``dingtalk:`` section on the fake, alerts routed to the group."""
    raw = base_config(
        routes=[
            {
                "name": "ops",
                "matchers": ['alertname=~".+"'],
                "destinations": list(destinations),
            }
        ],
        users=[
            {"id": "alice", "name": "Alice", "roles": ["sre"], "identities": {"dingtalk": ALICE}},
            {"id": "bob", "name": "Bob", "roles": ["dev"], "identities": {"dingtalk": BOB}},
            {
                "id": "carol",
                "name": "Carol",
                "roles": ["viewer"],
                "identities": {"dingtalk": CAROL},
            },
        ],
    )
    raw["console"] = {"enabled": False}
    raw["dingtalk"] = section(api, **dingtalk)
    return raw


def settings(api: FakeDingTalkApi, **kwargs: Any) -> Settings:
    return parse_settings(config(api, **kwargs), env={})


def adapter_of(tocsin: Tocsin) -> DingTalkAdapter:
    """The DingTalk adapter bootstrap wired in."""
    found = [a for a in tocsin.adapters if isinstance(a, DingTalkAdapter)]
    assert found, "bootstrap wired no DingTalk adapter"
    return found[0]


class Inbound:
    """The real dispatcher as an `InboundHandler`, recording what the adapter asks of it, in
    order (``accept <event id>``, ``command <event id>``, ``action <event id>``), and able to
    act out failures: `unstored` makes `accept` raise (the database is down), `gate` makes it
    wait until set, `dead` makes the handling never finish (the process dies after storing)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.events: list[str] = []
        self.routes: list[dict[str, Any]] = []
        self.unstored = False
        self.gate: asyncio.Event | None = None
        self.dead = False

    async def accept(self, request: Request, route: dict[str, Any]) -> bool:
        self.events.append(f"accept {request.event_id}")
        self.routes.append(route)
        if self.gate is not None:
            await self.gate.wait()
        if self.unstored:
            raise ConnectionRefusedError("the database is unavailable")
        return await self.dispatcher.accept(request, route)

    def on_resume(self, platform: str, resume: Resume) -> None:
        self.dispatcher.on_resume(platform, resume)

    async def command(self, request: CommandRequest) -> Reply:
        self.events.append(f"command {request.event_id}")
        await self._die()
        return await self.dispatcher.command(request)

    async def action(self, request: CardActionRequest) -> Reply:
        self.events.append(f"action {request.event_id}")
        await self._die()
        return await self.dispatcher.action(request)

    async def _die(self) -> None:
        if self.dead:
            await asyncio.Event().wait()  # until cancelled, like a process that stopped


# -- payloads ---------------------------------------------------------------------------------


def bot_message(
    api: FakeDingTalkApi,
    text: str,
    *,
    user: str = ALICE,
    group: str | None = GROUP,
    msg_id: str | None = None,
    webhook_expires_ms: int = 4_102_444_800_000,
) -> dict[str, Any]:
    """A robot message (the recorded one, made new): in `group`, or a direct message."""
    frame = recorded("dingtalk_bot_message_stream_frame")
    data: dict[str, Any] = json.loads(frame["data"])
    n = next(_ids)
    data.update(
        msgId=msg_id or f"msg{n:06d}==",
        senderStaffId=user,
        senderId=f"$:LWCP_v1:${user}",
        senderNick=user.rstrip("0123456789").title(),
        sessionWebhook=api.session_webhook(f"s{n}"),
        sessionWebhookExpiredTime=webhook_expires_ms,
        text={"content": text},
        robotCode=CLIENT_ID,
    )
    if group is None:
        data.update(conversationType="1", conversationId=f"cidDIRECT{user}==")
        data.pop("conversationTitle", None)
    else:
        data.update(conversationType="2", conversationId=group)
    return data


def card_press(
    card_id: str, button: dict[str, str], *, user: str = ALICE, group: str = GROUP
) -> dict[str, Any]:
    """A press of `button` (one of the card's ``buttons`` items) by `user`, as DingTalk sends it
    (nested JSON strings included)."""
    frame = recorded("dingtalk_card_callback_stream_frame")
    data: dict[str, Any] = json.loads(frame["data"])
    content = json.dumps(
        {
            "cardPrivateData": {
                "actionIds": [button["id"]],
                "params": {"tocsin": button["value"], "label": button["text"]},
            }
        }
    )
    data.update(userId=user, outTrackId=card_id, spaceId=group, content=content, value=content)
    return data


def buttons(api: FakeDingTalkApi, card_id: str, user: str = ALICE) -> list[dict[str, str]]:
    """The buttons the card shows `user` now."""
    found: list[dict[str, str]] = json.loads(api.cards[card_id].seen_by(user)["buttons"])
    return found


def button(api: FakeDingTalkApi, card_id: str, action: str) -> dict[str, str]:
    return next(b for b in buttons(api, card_id) if json.loads(b["value"])["a"] == action)


def signed_headers(timestamp_ms: int, *, secret: str = CLIENT_SECRET) -> dict[str, str]:
    """Headers DingTalk sends with an HTTP-mode callback made at `timestamp_ms`."""
    return {
        "content-type": "application/json; charset=utf-8",
        "timestamp": str(timestamp_ms),
        "sign": sign(secret, timestamp_ms),
    }


# -- state ------------------------------------------------------------------------------------


async def incident(tocsin: Tocsin, number: int) -> Any:
    async with tocsin.services.db.connect() as conn:
        return (await conn.execute(select(incidents).where(incidents.c.id == number))).one()


async def audit(tocsin: Tocsin) -> list[Any]:
    async with tocsin.services.db.connect() as conn:
        return list((await conn.execute(select(audit_log).order_by(audit_log.c.id))).all())


async def inbox_rows(tocsin: Tocsin) -> list[Any]:
    async with tocsin.services.db.connect() as conn:
        return list((await conn.execute(select(inbox).order_by(inbox.c.id))).all())


async def card_refs(tocsin: Tocsin) -> list[dict[str, Any]]:
    async with tocsin.services.db.connect() as conn:
        return [dict(r.ref) for r in (await conn.execute(select(card_posts))).all()]
