"""The DingTalk adapter's own settings: the `dingtalk:` section of the configuration file.

`parse(raw)` gives a frozen `DingTalkSettings` or raises `ConfigError` naming each problem by its
key path inside the section (``robots.ops.webhook: …``); the composition root prefixes
``dingtalk.``. Secrets (the app secret, robot webhooks and their signing secrets) are
`SecretStr`, so they never show up in a repr or a log line.

Two kinds of robot, both optional (but at least one):

- the **app robot** (企业内部应用机器人): ``client_id`` + ``client_secret``; takes @-commands and
  direct messages, posts interactive cards from ``card_template_id`` whose buttons call back;
- **custom group robots** (自定义机器人) under ``robots:``: outbound only, webhook + 加签 secret;
  their buttons are Tocsin's signed action links.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from adapters.edge import section
from bot.settings.durations import Duration

DEFAULT_API_URL = "https://api.dingtalk.com"
DEFAULT_OAPI_URL = "https://oapi.dingtalk.com"
GATEWAY_PATH = "/v1.0/gateway/connections/open"
ROBOT_LIMIT_PER_MINUTE = 20
"""DingTalk's documented limit per custom robot; more means a 10-minute block."""


class RobotSettings(BaseModel):
    """One custom group robot (群设置 → 智能群助手 → 添加机器人 → 自定义)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    webhook: SecretStr
    """The robot's Webhook URL, ``https://oapi.dingtalk.com/robot/send?access_token=…``."""
    secret: SecretStr | None = None
    """The 加签 secret (``SEC…``); every message is then signed with it."""
    keyword: str | None = None
    """For a robot secured by 自定义关键词: a keyword every message must contain."""

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if not url.startswith(("https://", "http://")) or "access_token=" not in url:
            raise ValueError("must be the robot's Webhook URL (…/robot/send?access_token=…)")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else section.prefixed(value, "SEC", "the robot's 加签 secret")


class DingTalkSettings(BaseModel):
    """Everything the adapter needs; `config/dingtalk.example.yaml` documents each key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str | None = None
    """The app's Client ID (AppKey); also the robot's robotCode unless `robot_code` is set."""
    client_secret: SecretStr | None = None
    """The app's Client Secret (AppSecret)."""
    robot_code: str | None = None
    """The robot's RobotCode, when it differs from the Client ID."""
    mode: Literal["stream", "http"] = "stream"
    """stream: @-messages arrive over the Stream connection (no public URL needed); http: DingTalk
    POSTs them to /dingtalk/callback. Card button presses always come over Stream."""
    card_template_id: str | None = None
    """The interactive card template (``….schema``) built from config/dingtalk/. Without it the
    app robot posts markdown whose buttons are signed action links."""
    api_url: str = DEFAULT_API_URL
    """The OpenAPI base URL (tokens, cards, robot messages)."""
    oapi_url: str = DEFAULT_OAPI_URL
    """The old API host; a message's session webhook is only used when it lives here."""
    gateway_url: str | None = None
    """Where Stream connections are opened; by default `api_url`/v1.0/gateway/connections/open."""
    local_ip: str | None = None
    """The address the Stream client reports as its localIp; detected when not set."""
    rate_per_second: float = Field(1.0, gt=0)
    """Messages per second per chat the outbox sends through the app robot."""
    burst: int = Field(5, ge=1)
    """How many messages may go at once to a chat after a quiet spell (app robot)."""
    robots: dict[str, RobotSettings] = {}
    """Custom group robots by name: destinations ``dingtalk-robot:<name>``."""
    robot_rate_per_minute: float = Field(18, gt=0, le=ROBOT_LIMIT_PER_MINUTE)
    """Messages per minute per custom robot (DingTalk blocks a robot for 10 minutes past 20)."""
    robot_burst: int = Field(2, ge=1, le=ROBOT_LIMIT_PER_MINUTE)
    """Messages a custom robot may send at once; with the rate, at most 20 in any minute."""
    bot_names: tuple[str, ...] = ("tocsin",)
    """Names typed as plain text to address the bot (``@tocsin ack 1``)."""
    timeout: Duration = timedelta(seconds=10)
    """How long one API call may take before the outbox tries again later."""
    callback_window: Duration = timedelta(hours=1)
    """HTTP mode: how far a request's timestamp may be from now (DingTalk's rule is one hour)."""
    ping_interval: Duration = timedelta(seconds=20)
    """Stream: how often the connection is pinged to prove it is alive."""
    liveness_timeout: Duration = timedelta(seconds=10)
    """Stream: a ping unanswered this long means a dead connection: it is replaced."""
    open_timeout: Duration = timedelta(seconds=10)
    """Stream: how long opening a connection (gateway request and WebSocket) may take."""
    reconnect_min: Duration = timedelta(seconds=1)
    """Stream: the first wait before reconnecting; it doubles on each failure…"""
    reconnect_max: Duration = timedelta(seconds=60)
    """…up to this."""

    @field_validator("api_url", "oapi_url", "gateway_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value is not None else None

    @field_validator("bot_names")
    @classmethod
    def _bot_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return section.bot_names(value)

    @property
    def app(self) -> bool:
        """Whether an app robot is configured (the ``dingtalk`` platform)."""
        return bool(self.client_id)

    @property
    def code(self) -> str:
        """The app robot's robotCode."""
        return self.robot_code or self.client_id or ""

    @property
    def secret(self) -> str:
        return self.client_secret.get_secret_value() if self.client_secret else ""

    @property
    def open_url(self) -> str:
        return self.gateway_url or self.api_url + GATEWAY_PATH

    @property
    def stream(self) -> bool:
        """Whether a Stream connection is kept: for @-messages in stream mode, and for card
        button presses whenever interactive cards are posted."""
        return self.app and (self.mode == "stream" or self.card_template_id is not None)


def parse(raw: Mapping[str, Any]) -> DingTalkSettings:
    """Validate the raw section; `ConfigError` lists every problem with its key path."""
    settings = section.read(DingTalkSettings, raw)
    problems = []
    if settings.client_id and not section.present(settings.client_secret):
        problems.append("client_secret: required with client_id (the app's Client Secret)")
    if settings.client_secret is not None and not settings.client_id:
        problems.append("client_id: required with client_secret (the app's Client ID)")
    if not settings.app and not settings.robots:
        problems.append(
            "(section): configure the app robot (client_id, client_secret) or custom robots "
            "(robots:), or both"
        )
    if settings.card_template_id is not None and not settings.card_template_id.strip():
        problems.append("card_template_id: must not be empty (leave it out instead)")
    if settings.robot_burst + settings.robot_rate_per_minute > ROBOT_LIMIT_PER_MINUTE:
        problems.append(
            "robot_burst: with robot_rate_per_minute it allows more than 20 messages in a "
            "minute, which gets a robot blocked for 10 minutes"
        )
    if settings.reconnect_min > settings.reconnect_max:
        problems.append("reconnect_min: must not be longer than reconnect_max")
    for name in settings.robots:
        if not name or ":" in name or any(c.isspace() for c in name):
            problems.append(f"robots.{name}: a robot's name is one word (no ':' or spaces)")
    return section.checked(settings, problems)


def validate(raw: Mapping[str, Any]) -> list[str]:
    """The problems in the raw section, each ``"<key.path>: message"``; empty when valid."""
    return section.problems(parse, raw)
