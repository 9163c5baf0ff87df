"""The Feishu/Lark adapter's own settings: the ``feishu:`` section of the configuration file.

`parse(raw)` gives a frozen `FeishuSettings` or raises `ConfigError` naming each problem by its
key path inside the section (``app_secret: …``); the composition root prefixes ``feishu.``. The
app secret, the verification token and the encrypt key are `SecretStr`, so they never show up in
a repr or a log line. Nothing here imports lark-oapi: checking a file stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from adapters.edge import section
from bot.settings.durations import Duration

DOMAINS = {"feishu": "https://open.feishu.cn", "lark": "https://open.larksuite.com"}
"""Feishu (China) and Lark (international) Open Platform origins, as lark-oapi names them."""
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
CLICK_DEADLINE = timedelta(seconds=3)
"""Feishu drops a button press not answered within three seconds."""


class FeishuSettings(BaseModel):
    """Everything the adapter needs; `config/example.yaml` documents each key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["long_connection", "webhook"] = "long_connection"
    """long_connection: Tocsin connects out to Feishu (no public URL); webhook: Feishu POSTs to
    /feishu/events."""
    domain: str = "feishu"
    """feishu, lark, or the origin of a proxy or test server (``https://host[:port]``)."""
    app_id: str
    """The app's App ID, ``cli_…``."""
    app_secret: SecretStr
    """The app's App Secret."""
    verification_token: SecretStr | None = None
    """Events & Callbacks → Encryption Strategy → Verification Token (webhook mode)."""
    encrypt_key: SecretStr | None = None
    """Events & Callbacks → Encryption Strategy → Encrypt Key (webhook mode)."""
    rate_per_second: float = Field(5.0, gt=0)
    """Messages per second per chat the outbox sends (Feishu allows five, shared by all bots)."""
    burst: int = Field(5, ge=1)
    """How many messages may go at once to a chat after a quiet spell."""
    bot_names: tuple[str, ...] = ("tocsin",)
    """Names typed as plain text to address the bot (``tocsin ack 1`` in a direct message)."""
    timeout: Duration = timedelta(seconds=10)
    """How long one Open API call may take before the outbox tries again later."""
    answer_within: Duration = timedelta(seconds=2)
    """How long a button press waits for Tocsin's answer before Feishu is answered without it."""
    replay_window: Duration = timedelta(minutes=5)
    """Webhook mode: how far a request's timestamp may be from now; older ones are replays."""
    restart_delay: Duration = timedelta(seconds=30)
    """Long connection: the wait before starting again after a failure lark-oapi does not
    recover from by itself (a wrong App Secret, say)."""

    @field_validator("app_id")
    @classmethod
    def _app_id(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("cli_") or len(value) < 8:
            raise ValueError("must be the app's App ID, starting with cli_")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value.lower() in DOMAINS:
            return value.lower()
        parts = urlsplit(value)
        secure = parts.scheme == "https"
        local = parts.scheme == "http" and (parts.hostname or "") in LOOPBACK
        if not (secure or local) or not parts.netloc or parts.path or parts.query:
            raise ValueError(
                "must be feishu, lark, or an origin such as https://open.feishu.cn "
                "(http only for 127.0.0.1)"
            )
        return value

    @field_validator("bot_names")
    @classmethod
    def _bot_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return section.bot_names(value)

    @property
    def base_url(self) -> str:
        """The Open Platform origin every call (and the long connection's discovery) goes to."""
        return DOMAINS.get(self.domain, self.domain)

    @property
    def call_timeout(self) -> float:
        return max(self.timeout.total_seconds(), 0.1)


def parse(raw: Mapping[str, Any]) -> FeishuSettings:
    """Validate the raw section; `ConfigError` lists every problem with its key path."""
    settings = section.read(FeishuSettings, raw)
    problems = []
    if not section.present(settings.app_secret):
        problems.append("app_secret: must not be empty")
    if settings.mode == "webhook":
        if not section.present(settings.verification_token):
            problems.append(
                "verification_token: required in webhook mode "
                "(Events & Callbacks → Encryption Strategy)"
            )
        if not section.present(settings.encrypt_key):
            problems.append(
                "encrypt_key: required in webhook mode: set an Encrypt Key in Events & "
                "Callbacks → Encryption Strategy, so requests are encrypted and signed"
            )
    low, high = timedelta(milliseconds=100), CLICK_DEADLINE - timedelta(milliseconds=200)
    if not low <= settings.answer_within <= high:
        problems.append("answer_within: must be between 100ms and 2800ms (Feishu waits 3s)")
    if not timedelta(seconds=30) <= settings.replay_window <= timedelta(hours=1):
        problems.append("replay_window: must be between 30s and 1h")
    if settings.restart_delay <= timedelta(0):
        problems.append("restart_delay: must be longer than zero")
    return section.checked(settings, problems)


def validate(raw: Mapping[str, Any]) -> list[str]:
    """The problems in the raw section, each ``"<key.path>: message"``; empty when valid."""
    return section.problems(parse, raw)
