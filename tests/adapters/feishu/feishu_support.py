"""Helpers for the Feishu tests: settings, recorded payloads made into new ones, encrypted and
signed webhook requests, and one way to deliver an event over either inbound mode."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from fake_feishu import BOT_OPEN_ID, FakeLongConnection, FakeOpenApi, Message
from sqlalchemy import select

from adapters.chat.feishu import FeishuAdapter
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.settings import Settings, parse_settings
from bot.store.tables import audit_log, card_posts, incidents
from tests.support import base_config

DATA = Path(__file__).parent / "data"
CHAT = "oc_alerts"
ENCRYPT_KEY = "kl9m1Nz8tWq3eR5tY7uI0oP2aS4dF6gH"
VERIFICATION_TOKEN = "v3rIfIcAtIoNtOkEn0123456789"
ALICE = "ou_alice000000000000000000000000"  # by open_id
BOB = "ou_bob00000000000000000000000000"
BOB_UNION = "on_bob00000000000000000000000000"  # bob is configured by union_id
CAROL = "ou_carol000000000000000000000000"
STRANGER = "ou_stranger000000000000000000000"
_ids = count(1)


def recorded(name: str) -> dict[str, Any]:
    """A recorded payload from `data/` (a copy, without its ``_comment``)."""
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    data.pop("_comment", None)
    return data


def config(api: FakeOpenApi, *, mode: str = "long_connection", **feishu: Any) -> dict[str, Any]:
    """Tocsin's settings with a ``feishu:`` section on the fake, routing alerts to one group."""
    raw = base_config(
        routes=[
            {
                "name": "ops",
                "matchers": ['alertname=~".+"'],
                "destinations": [f"feishu:{CHAT}", *feishu.pop("extra_destinations", [])],
            }
        ],
        users=[
            {"id": "alice", "name": "Alice", "roles": ["sre"], "identities": {"feishu": ALICE}},
            {"id": "bob", "name": "Bob", "roles": ["dev"], "identities": {"feishu": BOB_UNION}},
            {"id": "carol", "name": "Carol", "roles": ["viewer"], "identities": {"feishu": CAROL}},
        ],
    )
    raw["feishu"] = {
        "mode": mode,
        "domain": api.base_url,
        "app_id": api.app_id,
        "app_secret": api.app_secret,
        "verification_token": VERIFICATION_TOKEN,
        "encrypt_key": ENCRYPT_KEY,
        "rate_per_second": 50,
        "burst": 50,
        "timeout": "5s",
        "answer_within": "2800ms",  # the most Feishu allows: room for a loaded test machine
        "restart_delay": "200ms",
        **feishu,
    }
    return raw


def settings(api: FakeOpenApi, **kwargs: Any) -> Settings:
    return parse_settings(config(api, **kwargs), env={})


def adapter_of(tocsin: Tocsin) -> FeishuAdapter:
    """The Feishu adapter bootstrap wired in."""
    found = [a for a in tocsin.adapters if isinstance(a, FeishuAdapter)]
    assert found, "bootstrap wired no Feishu adapter"
    return found[0]


def new_app_id() -> str:
    """A fresh app id per test: lark-oapi caches tenant tokens per app id for the process."""
    return f"cli_test{os.urandom(6).hex()}"


# -- payloads ---------------------------------------------------------------------------------


def message_event(
    text: str,
    *,
    user: str = ALICE,
    chat: str = CHAT,
    chat_type: str = "group",
    mention_bot: bool = True,
    message_id: str | None = None,
    event_id: str | None = None,
    thread_id: str = "",
) -> dict[str, Any]:
    """An ``im.message.receive_v1`` event, from the recorded one: `text` typed by `user`, with
    ``@_user_1`` standing for the bot when `mention_bot`."""
    event = recorded("feishu_im_message_receive_v1_event")
    n = next(_ids)
    event["header"]["event_id"] = event_id or f"ev{n:08d}"
    event["header"]["token"] = VERIFICATION_TOKEN
    sender = event["event"]["sender"]
    sender["sender_id"] = {"open_id": user, "union_id": _union(user), "user_id": ""}
    message = event["event"]["message"]
    message.update(
        message_id=message_id or f"om_in{n:08d}",
        chat_id=chat,
        chat_type=chat_type,
        content=json.dumps({"text": f"@_user_1 {text}" if mention_bot else text}),
    )
    if thread_id:
        message["thread_id"] = thread_id
    if mention_bot:
        message["mentions"][0]["id"] = {"open_id": BOT_OPEN_ID, "union_id": "on_bot", "user_id": ""}
    else:
        message["mentions"] = []
    return event


def card_press(
    card: Message, kind: str, *, user: str = ALICE, event_id: str | None = None
) -> dict[str, Any]:
    """A ``card.action.trigger`` press of the `kind` button on a card Tocsin posted (its real
    callback value), from the recorded callback."""
    value = next(
        b["behaviors"][0]["value"]
        for b in buttons(card.content)
        if b["behaviors"][0].get("value", {}).get("a") == kind
    )
    press = recorded("feishu_card_action_trigger_callback")
    n = next(_ids)
    press["header"]["event_id"] = event_id or f"evp{n:08d}"
    press["header"]["token"] = VERIFICATION_TOKEN
    press["event"]["operator"] = {
        "open_id": user,
        "union_id": _union(user),
        "user_id": "",
        "tenant_key": "t1",
    }
    press["event"]["action"] = {"value": value, "tag": "button"}
    press["event"]["context"] = {"open_message_id": card.message_id, "open_chat_id": card.chat_id}
    return press


def buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for row in card["body"]["elements"]
        if row["tag"] == "column_set"
        for column in row["columns"]
        for element in column["elements"]
        if element["tag"] == "button"
    ]


def _union(open_id: str) -> str:
    return "on_" + open_id.removeprefix("ou_")


# -- webhook requests -------------------------------------------------------------------------


def encrypt(plaintext: str, key: str = ENCRYPT_KEY) -> str:
    """Feishu's Encrypt Key cipher, written independently of the adapter (with `cryptography`)."""
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext.encode()) + padder.finalize()
    iv = os.urandom(16)
    encryptor = Cipher(
        algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(iv)
    ).encryptor()
    return base64.b64encode(iv + encryptor.update(data) + encryptor.finalize()).decode()


def sealed(envelope: dict[str, Any], key: str = ENCRYPT_KEY) -> bytes:
    return json.dumps({"encrypt": encrypt(json.dumps(envelope), key)}).encode()


def signed_headers(
    body: bytes, *, timestamp: float, key: str = ENCRYPT_KEY, nonce: str = ""
) -> dict[str, str]:
    stamp, nonce = str(int(timestamp)), nonce or os.urandom(8).hex()
    signature = hashlib.sha256((stamp + nonce + key).encode() + body).hexdigest()
    return {
        "content-type": "application/json",
        "x-lark-request-timestamp": stamp,
        "x-lark-request-nonce": nonce,
        "x-lark-signature": signature,
    }


# -- delivering events ------------------------------------------------------------------------


@dataclass
class Delivered:
    """How Feishu's side saw it: a status and the JSON answer."""

    status: int
    body: dict[str, Any]


class Feishu(Protocol):
    """Delivers an event to Tocsin the way Feishu would in one inbound mode."""

    async def send(self, envelope: dict[str, Any], *, wait: bool = True) -> Delivered:
        """Deliver `envelope`; with `wait`, also wait for the work it started to finish."""
        ...


def _written(api: FakeOpenApi, envelope: dict[str, Any]) -> None:
    """A message event stands for a message someone wrote: Feishu has it too."""
    if envelope.get("header", {}).get("event_type") == "im.message.receive_v1":
        api.incoming(envelope)


class Webhook:
    def __init__(
        self, client: httpx.AsyncClient, clock: FakeClock, adapter: FeishuAdapter, api: FakeOpenApi
    ) -> None:
        self.client, self.clock, self.adapter, self.api = client, clock, adapter, api

    async def send(self, envelope: dict[str, Any], *, wait: bool = True) -> Delivered:
        _written(self.api, envelope)
        body = sealed(envelope)
        headers = signed_headers(body, timestamp=self.clock.now().timestamp())
        response = await self.client.post("/feishu/events", content=body, headers=headers)
        if wait:
            await self.adapter.idle()
        return Delivered(response.status_code, response.json())


class LongConnection:
    def __init__(
        self, server: FakeLongConnection, adapter: FeishuAdapter, api: FakeOpenApi
    ) -> None:
        self.server, self.adapter, self.api = server, adapter, api

    async def send(self, envelope: dict[str, Any], *, wait: bool = True) -> Delivered:
        _written(self.api, envelope)
        answer = await self.server.answer(await self.server.push(envelope))
        if wait:
            await self.adapter.idle()
        return Delivered(answer.code, answer.data or {})


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
