"""Helpers for the Slack tests: settings, recorded payloads made into new ones, signed requests."""

from __future__ import annotations

import copy
import json
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fake_slack import FakeSlackApi, slack_user
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from adapters.chat.slack import SlackAdapter
from bot.bootstrap import Tocsin
from bot.errors import DatabaseUnavailable
from bot.inbound import InboundHandler
from bot.inbox import Request, Resume
from bot.model import CardActionRequest, CommandRequest, Reply
from bot.settings import Settings, parse_settings
from bot.store.tables import audit_log, card_posts, incidents
from tests.support import base_config

DATA = Path(__file__).parent / "data"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0ALERTS"
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
_ids = count(1)


def recorded(name: str) -> dict[str, Any]:
    """A recorded payload from `data/` (a copy, without its ``_comment``)."""
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    data.pop("_comment", None)
    return data


def slack_users() -> dict[str, dict[str, Any]]:
    return {
        ALICE: slack_user(ALICE, "Alice Chen"),
        BOB: slack_user(BOB, "Bob Wang"),
        CAROL: slack_user(CAROL, "Carol Li"),
    }


def config(api: FakeSlackApi, *, mode: str = "socket", **slack: Any) -> dict[str, Any]:
    """Tocsin's settings with a ``slack:`` section on the fake, routing alerts to #alerts."""
    raw = base_config(
        routes=[
            {
                "name": "ops",
                "matchers": ['alertname=~".+"'],
                "destinations": [f"slack:{CHANNEL}", *slack.pop("extra_destinations", [])],
            }
        ],
        users=[
            {"id": "alice", "name": "Alice", "roles": ["sre"], "identities": {"slack": ALICE}},
            {"id": "bob", "name": "Bob", "roles": ["dev"], "identities": {"slack": BOB}},
            {"id": "carol", "name": "Carol", "roles": ["viewer"], "identities": {"slack": CAROL}},
        ],
    )
    raw["console"] = {"enabled": False}
    raw["slack"] = {
        "mode": mode,
        "bot_token": api.bot_token,
        "app_token": api.app_token,
        "signing_secret": SIGNING_SECRET,
        "api_url": api.base_url,
        "rate_per_second": 50,
        "burst": 50,
        "ping_interval": "1s",
        "reconnect_min": "20ms",
        "reconnect_max": "100ms",
        "timeout": "5s",
        **slack,
    }
    return raw


def settings(api: FakeSlackApi, **kwargs: Any) -> Settings:
    return parse_settings(config(api, **kwargs), env={})


def adapter_of(tocsin: Tocsin) -> SlackAdapter:
    """The Slack adapter bootstrap wired in."""
    found = [a for a in tocsin.adapters if isinstance(a, SlackAdapter)]
    assert found, "bootstrap wired no Slack adapter"
    return found[0]


class RecordingInbound:
    """The real dispatcher behind a log of what reached it, in order: ``("accept", event_id)``
    when a request is stored, ``("command" | "action", event_id)`` when it is handled, and
    ``("refused", event_id)`` when `failing` makes `accept` raise as an unreachable database
    does. A test appends its own entries (e.g. when Slack's answer arrived) to the same log."""

    def __init__(self, inner: InboundHandler) -> None:
        self.inner = inner
        self.events: list[tuple[str, str]] = []
        self.failing = False

    async def command(self, request: CommandRequest) -> Reply:
        self.events.append(("command", request.event_id))
        return await self.inner.command(request)

    async def action(self, request: CardActionRequest) -> Reply:
        self.events.append(("action", request.event_id))
        return await self.inner.action(request)

    async def accept(self, request: Request, route: dict[str, Any]) -> bool:
        if self.failing:
            self.events.append(("refused", request.event_id))
            raise DatabaseUnavailable("the database cannot be reached")
        self.events.append(("accept", request.event_id))
        return await self.inner.accept(request, route)

    def on_resume(self, platform: str, resume: Resume) -> None:
        self.inner.on_resume(platform, resume)

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


# -- payloads ---------------------------------------------------------------------------------


def slash_command(
    api: FakeSlackApi, command: str, text: str, *, user: str = ALICE, channel: str = CHANNEL
) -> dict[str, Any]:
    body = recorded("slack_slash_command_callback")
    n = next(_ids)
    body.update(
        command=command,
        text=text,
        user_id=user,
        user_name=user.lower(),
        channel_id=channel,
        trigger_id=f"{n}.{n}.trigger",
        response_url=api.response_url(f"command-{n}"),
    )
    return body


def block_actions(
    posted_blocks: list[dict[str, Any]],
    action_id: str,
    *,
    ts: str,
    user: str = ALICE,
    channel: str = CHANNEL,
) -> dict[str, Any]:
    """A press of the button `action_id` on the message Tocsin posted (its real blocks)."""
    body = recorded("slack_block_actions_callback")
    n = next(_ids)
    button = next(
        element
        for block in posted_blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    )
    block_id = next(
        block["block_id"]
        for block in posted_blocks
        if block["type"] == "actions" and button in block["elements"]
    )
    body["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0"}
    body["container"] = {"type": "message", "message_ts": ts, "channel_id": channel}
    body["channel"] = {"id": channel, "name": "alerts"}
    body["message"] = {"type": "message", "ts": ts, "text": "", "blocks": posted_blocks}
    body["trigger_id"] = f"{n}.{n}.trigger"
    body["actions"] = [
        {
            "type": "button",
            "action_id": action_id,
            "block_id": block_id,
            "text": button["text"],
            "value": button.get("value", ""),
            "action_ts": f"1767225660.{n:06d}",
        }
    ]
    return body


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "deprecated",
        "team_id": "T0TEAM",
        "api_app_id": "A0APP",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):08d}",
        "event_time": 1767225660,
        "authorizations": [{"team_id": "T0TEAM", "user_id": "U0TOCSIN", "is_bot": True}],
    }


def mention(text: str, *, user: str = ALICE, channel: str = CHANNEL) -> dict[str, Any]:
    n = next(_ids)
    return {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": f"1767225700.{n:06d}",
        "channel": channel,
        "event_ts": f"1767225700.{n:06d}",
    }


def direct_message(text: str, *, user: str = ALICE) -> dict[str, Any]:
    n = next(_ids)
    return {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": f"1767225800.{n:06d}",
        "channel": "D" + user[1:],
    }


def answers(api: FakeSlackApi) -> list[tuple[str, bool]]:
    """Every answer Tocsin gave outside a card, as (text, private), in order of kind:
    slash-command responses first, then ephemeral messages, then channel messages."""
    hooks = [(h["text"], h.get("response_type") == "ephemeral") for h in api.hooks]
    private = [(e["text"], True) for e in api.ephemerals]
    public = [(m.text, False) for m in api.messages.values() if not m.blocks]
    return hooks + private + public


# -- HTTP mode --------------------------------------------------------------------------------


def form(body: dict[str, Any]) -> bytes:
    return urlencode(body).encode()


def interactive(body: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(body)}).encode()


def signed_headers(
    body: bytes,
    *,
    timestamp: float,
    secret: str = SIGNING_SECRET,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    """Headers Slack would send with `body`, signed at `timestamp` (seconds)."""
    stamp = str(int(timestamp))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": signature,
    }


# -- state ------------------------------------------------------------------------------------


async def incident(tocsin: Tocsin, number: int) -> Any:
    async with tocsin.services.db.connect() as conn:
        return (await conn.execute(select(incidents).where(incidents.c.id == number))).one()


async def audit(tocsin: Tocsin) -> list[Any]:
    async with tocsin.services.db.connect() as conn:
        return list((await conn.execute(select(audit_log).order_by(audit_log.c.id))).all())


async def card_refs(tocsin: Tocsin) -> list[dict[str, Any]]:
    async with tocsin.services.db.connect() as conn:
        return [dict(r.ref) for r in (await conn.execute(select(card_posts))).all()]


def copy_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return copy.deepcopy(blocks)
