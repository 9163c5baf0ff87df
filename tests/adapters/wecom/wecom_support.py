"""Helpers for the WeCom tests: settings on the fake, recorded payloads made into new ones, and
callbacks encrypted and signed as WeCom sends them (and passive replies opened as WeCom would)."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import httpx
from fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWeCom
from sqlalchemy import select

from adapters.chat.wecom import WeComAdapter
from adapters.chat.wecom.crypto import WXBizMsgCrypt
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.settings import Settings, parse_settings
from bot.store.tables import audit_log, card_posts, incidents
from tests.support import base_config

DATA = Path(__file__).parent / "data"
APP_TOKEN = "tocsinAppCallbackToken"
APP_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
BOT_TOKEN = "tocsinAiBotToken"
BOT_KEY = base64.b64encode(bytes(range(100, 132))).decode().rstrip("=")
ROBOT_KEY = "key-ops"
_ids = count(1)


def recorded(name: str) -> dict[str, Any]:
    """A recorded payload from `data/` (a copy, without its ``_comment``)."""
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    data.pop("_comment", None)
    return data


def wecom_section(api: FakeWeCom, **overrides: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "corp_id": CORP_ID,
        "api_url": api.base_url,
        "timeout": "5s",
        "app": {
            "agent_id": AGENT_ID,
            "secret": SECRET,
            "token": APP_TOKEN,
            "encoding_aes_key": APP_KEY,
        },
        "aibot": {"token": BOT_TOKEN, "encoding_aes_key": BOT_KEY, "reply_within": "4s"},
        "robots": {"ops": {"webhook": ROBOT_KEY}},
    }
    section.update(overrides)
    return section


def config(
    api: FakeWeCom, *, destinations: list[str] | None = None, **wecom: Any
) -> dict[str, Any]:
    """Tocsin's settings with a ``wecom:`` section on the fake: alerts page alice through the
    app and go to the ops group's robot."""
    raw = base_config(
        routes=[
            {
                "name": "ops",
                "matchers": ['alertname=~".+"'],
                "destinations": destinations or ["wecom:@alice", "wecom-robot:ops"],
            }
        ],
        users=[
            {"id": "alice", "name": "Alice", "roles": ["sre"], "identities": {"wecom": "alice"}},
            {"id": "bob", "name": "Bob", "roles": ["dev"], "identities": {"wecom": "bob"}},
            {"id": "carol", "name": "Carol", "roles": ["viewer"], "identities": {"wecom": "carol"}},
        ],
        outbox={
            "rate_limits": {
                "wecom": {"rate": 50, "burst": 50},
                "wecom-robot": {"rate": 50, "burst": 50},
            }
        },
    )
    raw["wecom"] = wecom_section(api, **wecom)
    return raw


def settings(api: FakeWeCom, **kwargs: Any) -> Settings:
    return parse_settings(config(api, **kwargs), env={})


def adapter_of(tocsin: Tocsin) -> WeComAdapter:
    found = [a for a in tocsin.adapters if isinstance(a, WeComAdapter)]
    assert found, "bootstrap wired no WeCom adapter"
    return found[0]


# -- the WeCom side of a callback ---------------------------------------------------------------


@dataclass
class Signed:
    params: dict[str, str]
    body: bytes


class WeComSide:
    """Encrypts and signs callbacks with one token and key, as WeCom does."""

    def __init__(self, token: str, key: str, receive_id: str, clock: FakeClock) -> None:
        self.crypt = WXBizMsgCrypt(token, key, receive_id)
        self.clock = clock

    def query(
        self, ciphertext: str, *, timestamp: int | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        stamp = str(timestamp if timestamp is not None else int(self.clock.now().timestamp()))
        nonce = nonce or secrets.token_hex(5)
        signature = self.crypt.signature(stamp, nonce, ciphertext)
        return {"msg_signature": signature, "timestamp": stamp, "nonce": nonce}

    def app_xml(self, plaintext: str, **stamp: Any) -> Signed:
        encrypted = self.crypt.encrypt(plaintext)
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID>{AGENT_ID}</AgentID></xml>"
        )
        return Signed(self.query(encrypted, **stamp), body.encode())

    def app_json(self, plaintext: str, **stamp: Any) -> Signed:
        encrypted = self.crypt.encrypt(plaintext)
        body = {"ToUserName": CORP_ID, "Encrypt": encrypted, "AgentID": str(AGENT_ID)}
        return Signed(self.query(encrypted, **stamp), json.dumps(body).encode())

    def aibot(self, message: dict[str, Any], **stamp: Any) -> Signed:
        encrypted = self.crypt.encrypt(json.dumps(message, ensure_ascii=False))
        return Signed(self.query(encrypted, **stamp), json.dumps({"encrypt": encrypted}).encode())

    def open_reply(self, response: httpx.Response) -> dict[str, Any]:
        """A passive reply as WeCom reads it: signature checked, decrypted, parsed."""
        sealed = response.json()
        self.crypt.verify(
            sealed["msgsignature"], sealed["timestamp"], sealed["nonce"], sealed["encrypt"]
        )
        opened: dict[str, Any] = json.loads(self.crypt.decrypt(sealed["encrypt"]))
        return opened


def app_side(clock: FakeClock) -> WeComSide:
    return WeComSide(APP_TOKEN, APP_KEY, CORP_ID, clock)


def bot_side(clock: FakeClock) -> WeComSide:
    return WeComSide(BOT_TOKEN, BOT_KEY, "", clock)


# -- plaintexts ---------------------------------------------------------------------------------


def press_xml(user: str, task_id: str, key: str, code: str, *, create_time: int) -> str:
    """The decrypted app callback for a press, from the recorded one."""
    xml = recorded("wecom_template_card_event_callback_app.xml")["xml"]
    replaced = {
        "<![CDATA[alice]]>": f"<![CDATA[{user}]]>",
        "<![CDATA[ack:ALR-20260101-0001]]>": f"<![CDATA[{key}]]>",
        "<![CDATA[ALR-20260101-0001-v1]]>": f"<![CDATA[{task_id}]]>",
        "<![CDATA[RESPONSE_CODE_72H]]>": f"<![CDATA[{code}]]>",
        "<![CDATA[ww_corpid]]>": f"<![CDATA[{CORP_ID}]]>",
        "<CreateTime>1767225660</CreateTime>": f"<CreateTime>{create_time}</CreateTime>",
        f"<AgentID>{1000002}</AgentID>": f"<AgentID>{AGENT_ID}</AgentID>",
    }
    for old, new in replaced.items():
        xml = xml.replace(old, new)
    return str(xml)


def text_xml(user: str, content: str, *, create_time: int, msgid: str | None = None) -> str:
    msgid = msgid or str(4561255354251345000 + next(_ids))
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{create_time}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content>{escape(content)}</Content>"
        f"<MsgId>{msgid}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>"
    )


def aibot_text(
    text: str, *, user: str = "alice", chatid: str = "CHAT-OPS", response_url: str = ""
) -> dict[str, Any]:
    return {
        "msgid": f"MSG-{next(_ids)}",
        "aibotid": "AIBOT-TOCSIN",
        "chatid": chatid,
        "chattype": "group" if chatid else "single",
        "from": {"userid": user},
        "response_url": response_url,
        "msgtype": "text",
        "text": {"content": text},
    }


def aibot_press(
    task_id: str, key: str, *, user: str = "alice", response_url: str = ""
) -> dict[str, Any]:
    data = recorded("wecom_aibot_template_card_event_callback")
    data["msgid"] = f"EVT-{next(_ids)}"
    data["from"] = {"userid": user}
    data["chatid"] = "CHAT-OPS"
    data["response_url"] = response_url
    data["event"]["template_card_event"].update(event_key=key, task_id=task_id)
    return data


# -- state ------------------------------------------------------------------------------------


async def incident(tocsin: Tocsin, number: int) -> Any:
    async with tocsin.services.db.connect() as conn:
        return (await conn.execute(select(incidents).where(incidents.c.id == number))).one()


async def audit(tocsin: Tocsin) -> list[Any]:
    async with tocsin.services.db.connect() as conn:
        return list((await conn.execute(select(audit_log).order_by(audit_log.c.id))).all())


async def card_refs(tocsin: Tocsin) -> list[dict[str, Any]]:
    async with tocsin.services.db.connect() as conn:
        rows = (await conn.execute(select(card_posts).order_by(card_posts.c.id))).all()
        return [{"destination": r.destination, **dict(r.ref)} for r in rows]


def key_of(card: dict[str, Any], action: str) -> str:
    """The key of the first button for `action` on a rendered template card."""
    for button in card["button_list"]:
        if json.loads(button["key"]).get("a") == action:
            return str(button["key"])
    raise AssertionError(f"no {action} button on {card['main_title']}")
