"""Helpers for the paging provider tests: pages, recorded answers, and ``pagers:`` sections that
point at the fake servers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import DatabaseUnavailable
from bot.ports import Answer, DeliveryReport, Page, PhoneReply

DATA = Path(__file__).parent / "data"

ALIYUN_KEY_ID = "LTAI5tTocsinTestKey"
ALIYUN_SECRET = "aliyun-secret-0123456789"
TENCENT_ID = "AKIDtocsinTestSecretId0123456789"
TENCENT_KEY = "tencent-secret-key-0123456789"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-auth-token-0123456789"
TWILIO_KEY_SID = "SK" + "fedcba9876543210" * 2
TWILIO_KEY_SECRET = "twilio-api-key-secret-0123"
SECRETS = (ALIYUN_SECRET, TENCENT_KEY, TWILIO_TOKEN, TWILIO_KEY_SECRET)
"""Must never appear in an error message."""

PARAMS = {
    "id": "42",
    "tier": "P0",
    "title": "订单服务错误率过高 HighErrorRate",
    "service": "orders",
    "environment": "prod",
    "url": "https://tocsin.test/i/42",
}


def recorded(name: str) -> dict[str, Any]:
    """A recorded answer from `data/` (a copy, without its ``_comment``)."""
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    data.pop("_comment", None)
    return data


def page(channel: str = "sms", **overrides: Any) -> Page:
    values: dict[str, Any] = {
        "channel": channel,
        "to": "+8613800138000",
        "key": f"incident-42/step-1/alice/{channel}/1",
        "subject": "[P0] #42 HighErrorRate on orders/prod",
        "text": "【Tocsin】P0 #42 订单服务错误率过高 orders/prod。请尽快处理。",
        "lang": "zh",
        "params": dict(PARAMS),
        "ack_url": "https://tocsin.test/ack/42/alice?sig=abc",
    }
    values.update(overrides)
    return Page(**values)


def aliyun_sms(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "provider": "aliyun",
        "access_key_id": ALIYUN_KEY_ID,
        "access_key_secret": ALIYUN_SECRET,
        "sign_name": "托克辛",
        "template_code": "SMS_123456",
        "template_params": {"id": "id", "title": "title", "svc": "service"},
        "base_url": base_url,
        **overrides,
    }


def aliyun_voice(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "provider": "aliyun",
        "access_key_id": ALIYUN_KEY_ID,
        "access_key_secret": ALIYUN_SECRET,
        "tts_code": "TTS_654321",
        "called_show_number": "057188773344",
        "template_params": {"tier": "tier", "title": "title"},
        "base_url": base_url,
        **overrides,
    }


def tencent_sms(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "provider": "tencent",
        "secret_id": TENCENT_ID,
        "secret_key": TENCENT_KEY,
        "sdk_app_id": "1400000001",
        "sign_name": "托克辛",
        "template_id": "1000001",
        "template_params": ["id", "tier", "title"],
        "base_url": base_url,
        **overrides,
    }


def tencent_voice(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "provider": "tencent",
        "secret_id": TENCENT_ID,
        "secret_key": TENCENT_KEY,
        "sdk_app_id": "1400000002",
        "template_id": "2000002",
        "template_params": ["tier", "title"],
        "base_url": base_url,
        **overrides,
    }


def twilio(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "provider": "twilio",
        "account_sid": TWILIO_SID,
        "auth_token": TWILIO_TOKEN,
        "from_number": "+15005550006",
        "base_url": base_url,
        **overrides,
    }


@dataclass
class RecordingEvents:
    """A `PhoneEvents` standing in for the core: keeps what the routes hand it and gives
    `answer`; while `down` it fails as the database would, and with a `gate` it waits for it."""

    answer: Answer = field(default_factory=lambda: Answer("已确认 #42", True, "zh"))
    reports: list[DeliveryReport] = field(default_factory=list)
    replies: list[PhoneReply] = field(default_factory=list)
    down: bool = False
    gate: asyncio.Event | None = None

    async def receipts(self, reports: Sequence[DeliveryReport]) -> int:
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise DatabaseUnavailable("connection refused")
        self.reports += reports
        return len(reports)

    async def reply(self, reply: PhoneReply) -> Answer:
        if self.down:
            raise DatabaseUnavailable("connection refused")
        self.replies.append(reply)
        return self.answer
