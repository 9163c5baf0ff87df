"""Shared test helpers: settings builders, a recording chat platform, PostgreSQL databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from bot.errors import PermanentDelivery, RetryableDelivery
from bot.model import Card, Destination
from bot.ports import ChatCapabilities, PostedRef
from bot.settings import Settings, parse_settings
from bot.store.db import Database
from bot.store.migrate import upgrade

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
# Long and random-looking: `tocsin check` and `tocsin run` refuse short or placeholder secrets.
SECRET_KEY = "tq8VnR2kLw5XzP7jC3hM9yBf6dGs4Ae1"
TOKEN = "test-token-Hx7Lq2Wv9Rk4Zp6Nt3Jm8Bc5"
HMAC_SECRET = "hmac-secret-Ud4Fy7Qe2Ks9Vw5Gx3Ta8Lp"

EXAMPLE_ENV = {
    "TOCSIN_SECRET_KEY": SECRET_KEY,
    "ALERTMANAGER_TOKEN": "am-token-Rt5Yb8Nc2Wq7Lk4Hs9Fx3Jd6",
    "GRAFANA_TOKEN": "grafana-token-Pm3Vx8Kd5Qw2Zr7Tn4Bh9",
    "CI_WEBHOOK_SECRET": "ci-hmac-Wz6Ja3Lr8Tc5Nv2Kq9Fm4Yd7",
    "SENTRY_CLIENT_SECRET": "4b7f0e9c2a5d8e1f3b6c9a0d2e5f8b1c4a7d0e3f6b9c2a5d8e1f4b7c0a3d6e9f",
    "BACKUP_HEARTBEAT_TOKEN": "backup-beat-Qs5Nw8Tk3Xv7Lp2Hd9Rc4",
    "CONSOLE_TOKEN_ALICE": "console-alice-Bv7Hq2Xs5Lk9Rd4Wt8Nz3",
    "CONSOLE_TOKEN_BOB": "console-bob-Gm4Tz8Kc2Rv6Yp9Lx3Wf5Q",
    "SLACK_BOT_TOKEN": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
    "SLACK_APP_TOKEN": "xapp-1-A02BCDEFGH-2718281828459-0f3a9c7e5b1d",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "DINGTALK_CLIENT_ID": "dingq7xkz2mv9hcwl4rt",
    "DINGTALK_CLIENT_SECRET": "Hq2Vx7Lk9Rd4Wt8Nz3Bc5Jm6Fy1Gs0Pa",
    "DINGTALK_OPS_ROBOT_WEBHOOK": "https://oapi.dingtalk.com/robot/send?access_token=9f8e7d6c5b4a",
    "DINGTALK_OPS_ROBOT_SECRET": "SEC4f1a9b7c2e6d8f0a3b5c7d9e1f2a4b6c",
    "WECOM_CORP_ID": "ww7a3f9c2e1b8d4056",
    "WECOM_APP_SECRET": "Kq7Lx2Vb9Nd4Rt8Wz3Hc5Jm6Fy1Gs0PaE",
    "WECOM_APP_TOKEN": "Tk8Rv3Lq6Wx2",
    "WECOM_APP_AES_KEY": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "WECOM_AIBOT_TOKEN": "Ab9Zx4Qe7Lm2",
    "WECOM_AIBOT_AES_KEY": "kWxPpN4vBzHqR2tYcL8sDfG6mJ1aE9uO3iK7wX5yZ0Q",
    "WECOM_ROBOT_OPS": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx",
    "FEISHU_APP_ID": "cli_a5fb0ae6a4b8c00d",
    "FEISHU_APP_SECRET": "Fs8Kq3Vx7Lb2Nd9Rt4Wz6Hc1Jm5Gy0Pa",
}
"""Real-looking values for every variable config/example.yaml reads without a default."""


def base_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "tocsin": {"secret_key": SECRET_KEY, "language": "en", "public_url": "http://tocsin.test"},
        "sources": [
            {"name": "am", "kind": "alertmanager", "auth": {"bearer_token": TOKEN}},
            {"name": "grafana", "kind": "grafana", "auth": {"bearer_token": TOKEN}},
            {"name": "generic", "kind": "generic", "auth": {"hmac_secret": HMAC_SECRET}},
        ],
        "services": {"orders": {}, "payments": {}, "storefront": {}},
        "routes": [
            {
                "name": "payments",
                "matchers": ['service="payments"'],
                "destinations": ["fake:payments", "fake:ops"],
            },
            {"name": "ops", "matchers": ['alertname=~".+"'], "destinations": ["fake:ops"]},
        ],
        "users": [
            {
                "id": "alice",
                "name": "Alice",
                "roles": ["sre"],
                "identities": {"fake": "U-ALICE", "console": "alice"},
            },
            {
                "id": "bob",
                "name": "Bob",
                "language": "zh",
                "roles": ["dev"],
                "identities": {"fake": "U-BOB", "console": "bob"},
            },
            {
                "id": "carol",
                "name": "Carol",
                "roles": ["viewer"],
                "identities": {"fake": "U-CAROL", "console": "carol"},
            },
        ],
        "roles": {
            "sre": {"grants": ["*"]},
            "dev": {"grants": ["view", "ack", "silence:storefront", "resolve:*:staging"]},
            "viewer": {"grants": ["view"]},
        },
        "console": {"enabled": False},
        "incidents": {
            "ack_timeout": "1h",
            "reopen_window": "1h",
            "flapping": {"window": "10m", "max_changes": 4},
        },
    }
    for key, value in overrides.items():
        config[key] = value
    return config


def make_settings(**overrides: Any) -> Settings:
    return parse_settings(base_config(**overrides), env={})


@dataclass
class Sent:
    op: str
    dest: str
    card: Card | None = None
    text: str = ""
    ref: dict[str, Any] = field(default_factory=dict)


class RecordingPlatform:
    """An in-memory chat platform: keeps what it was asked to show, can be told to fail."""

    def __init__(
        self,
        name: str = "fake",
        capabilities: ChatCapabilities | None = None,
        chats: set[str] | None = None,
    ) -> None:
        self.name = name
        self.chats = chats
        """When given, only these chats exist (others fail as a real platform would)."""
        self.capabilities = capabilities or ChatCapabilities(rate_per_second=100, burst=100)
        self.sent: list[Sent] = []
        self.cards: dict[int, Card] = {}
        self.fail_next: list[Exception] = []
        self._next = 0

    def _maybe_fail(self, dest: Destination) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        if self.chats is not None and dest.chat not in self.chats:
            raise PermanentDelivery(f"channel_not_found: {dest.chat}")

    async def post_card(self, dest: Destination, card: Card, *, lang: str) -> PostedRef:
        self._maybe_fail(dest)
        self._next += 1
        self.cards[self._next] = card
        self.sent.append(Sent("post", str(dest), card, ref={"n": self._next}))
        return PostedRef({"n": self._next})

    async def update_card(
        self, dest: Destination, ref: PostedRef, card: Card, *, lang: str
    ) -> PostedRef:
        self._maybe_fail(dest)
        self.cards[ref.data["n"]] = card
        self.sent.append(Sent("update", str(dest), card, ref=dict(ref.data)))
        return ref

    async def post_text(self, dest: Destination, text: str, *, reply_to: PostedRef | None) -> None:
        self._maybe_fail(dest)
        self.sent.append(
            Sent("text", str(dest), text=text, ref=dict(reply_to.data) if reply_to else {})
        )

    def ops(self, op: str, dest: str | None = None) -> list[Sent]:
        return [s for s in self.sent if s.op == op and (dest is None or s.dest == dest)]


def retry_later(seconds: float | None = None) -> RetryableDelivery:
    return RetryableDelivery("HTTP 429 rate limited", retry_after=seconds)


def gone() -> PermanentDelivery:
    return PermanentDelivery("channel_not_found")


def postgres_required() -> bool:
    return os.environ.get("CI") == "true"


async def _pg_available() -> bool:
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    if not await _pg_available():
        if postgres_required():
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required when CI=true")
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    name = f"tocsin_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def migrated(url: str) -> AsyncIterator[Database]:
    db = Database(url)
    try:
        await upgrade(db)
        yield db
    finally:
        await db.dispose()


def firing(
    name: str = "HighErrorRate",
    *,
    service: str = "orders",
    env: str = "prod",
    severity: str = "critical",
    instance: str = "i-1",
    status: str = "firing",
    starts_at: Any = None,
    source: str = "am",
    group_key: str = "",
) -> Any:
    """An AlertEvent as a source parser would give it."""
    from datetime import UTC, datetime

    from bot.alerts.event import AlertEvent, AlertStatus, label_fingerprint

    labels = {
        "alertname": name,
        "service": service,
        "env": env,
        "severity": severity,
        "instance": instance,
    }
    return AlertEvent(
        source=source,
        fingerprint=label_fingerprint(labels),
        status=AlertStatus(status),
        labels=labels,
        annotations={"summary": f"{name} on {service}"},
        starts_at=starts_at or datetime(2026, 1, 5, 2, 55, tzinfo=UTC),
        group_key=group_key,
    )


def resolved(name: str = "HighErrorRate", **kwargs: Any) -> Any:
    return firing(name, status="resolved", **kwargs)
