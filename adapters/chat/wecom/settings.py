"""The WeCom adapter's own settings: the ``wecom:`` section of the configuration file.

Three surfaces, each optional (at least one is needed):

- ``app`` — a self-built app (自建应用): interactive cards to people, callbacks on
  ``/wecom/callback``;
- ``aibot`` — an AI bot (智能机器人) in API mode: group @-commands on ``/wecom/aibot/callback``;
- ``robots`` — group robots (群机器人), outbound only, by name.

`parse(raw)` gives a frozen `WeComSettings` or raises `ConfigError` naming each problem by its key
path inside the section (``app.secret: …``); the composition root prefixes ``wecom.``. Secrets
are `SecretStr`, so they never show up in a repr or a log line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from adapters.chat.wecom.crypto import aes_key
from adapters.edge import section
from bot.settings.durations import Duration

DEFAULT_API_URL = "https://qyapi.weixin.qq.com/"
ROBOT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Callback(_Frozen):
    """What WeCom's "receive messages" (接收消息) page shows: the Token and EncodingAESKey."""

    token: SecretStr
    encoding_aes_key: SecretStr

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        return section.filled(value)

    @field_validator("encoding_aes_key")
    @classmethod
    def _aes_key(cls, value: SecretStr) -> SecretStr:
        aes_key(value.get_secret_value())  # raises ValueError with the reason
        return value


class AppSettings(Callback):
    """A self-built app: sends cards to people, receives their presses and messages."""

    agent_id: int = Field(ge=1)
    """The app's AgentId (应用管理 → the app)."""
    secret: SecretStr
    """The app's Secret, for ``gettoken``."""
    burst: int = Field(3, ge=1, le=20)
    """Messages that may go to one person at once; the rate keeps within 30/min and 1000/h."""


class AIBotSettings(Callback):
    """An AI bot (智能机器人) in API mode: takes @-mentions in groups and direct chats."""

    receive_id: str = ""
    """The receive id inside its callbacks: empty for a company's own bot."""
    reply_within: Duration = timedelta(seconds=4)
    """How long a command may run before the callback is answered without it (WeCom waits
    five seconds); a later answer goes through the callback's ``response_url``."""


class RobotSettings(_Frozen):
    """A group robot (群机器人): posts into one group through its webhook."""

    webhook: SecretStr
    """The robot's webhook address (…/cgi-bin/webhook/send?key=…) or just its key."""
    format: Literal["markdown", "text_notice"] = "markdown"
    """markdown: every button as a link; text_notice: a template card with up to 3 links."""
    card_url: str | None = None
    """text_notice: where tapping the card opens (e.g. a dashboard); default: its first link."""

    @field_validator("card_url")
    @classmethod
    def _card_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class WeComSettings(_Frozen):
    """Everything the adapter needs; `config/wecom.example.yaml` documents each key."""

    corp_id: str = ""
    """The company's CorpID (我的企业 → 企业ID), needed by the app."""
    api_url: str = DEFAULT_API_URL
    """The API base URL; only for a proxy or a test server."""
    timeout: Duration = timedelta(seconds=10)
    """How long one API call may take before the outbox tries again later."""
    callback_window: Duration = timedelta(minutes=5)
    """How far a callback's timestamp may be from now; older or newer ones are refused."""
    max_body_bytes: int = Field(65_536, ge=1024)
    """Callbacks are a few kilobytes; bigger bodies are refused."""
    bot_names: tuple[str, ...] = ("tocsin",)
    """Names people @-mention the AI bot by, stripped from the start of a command."""
    app: AppSettings | None = None
    aibot: AIBotSettings | None = None
    robots: dict[str, RobotSettings] = {}
    """Group robots by name; ``wecom-robot:<name>`` is the destination."""
    robot_burst: int = Field(3, ge=1, le=19)
    """Messages that may go to one robot at once; the rate keeps within WeCom's 20/min."""

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://qyapi.weixin.qq.com/")
        return value if value.endswith("/") else value + "/"

    @field_validator("bot_names")
    @classmethod
    def _bot_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return section.bot_names(value, marks="@＠", one_word=False)

    @field_validator("robots")
    @classmethod
    def _robot_names(cls, value: dict[str, RobotSettings]) -> dict[str, RobotSettings]:
        for name in value:
            if not re.fullmatch(ROBOT_NAME, name):
                raise ValueError(f"robot name {name!r}: use letters, digits, '_', '-' and '.'")
        return value


def parse(raw: Mapping[str, Any]) -> WeComSettings:
    """Validate the raw section; `ConfigError` lists every problem with its key path."""
    settings = section.read(WeComSettings, raw)
    problems = []
    if settings.app is None and settings.aibot is None and not settings.robots:
        problems.append("(section): configure at least one of app, aibot or robots")
    if settings.app is not None and not settings.corp_id.strip():
        problems.append("corp_id: required with app (我的企业 → 企业信息 → 企业ID)")
    return section.checked(settings, problems)


def validate(raw: Mapping[str, Any]) -> list[str]:
    """The problems in the raw section, each ``"<key.path>: message"``; empty when valid."""
    return section.problems(parse, raw)
