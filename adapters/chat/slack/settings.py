"""The Slack adapter's own settings: the `slack:` section of the configuration file.

`parse(raw)` gives a frozen `SlackSettings` or raises `ConfigError` naming each problem by its key
path inside the section (``app_token: …``); the composition root prefixes ``slack.``. Tokens and
the signing secret are `SecretStr`, so they never show up in a repr or a log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from adapters.edge import section
from bot.settings.durations import Duration

DEFAULT_API_URL = "https://slack.com/api/"


class SlackSettings(BaseModel):
    """Everything the adapter needs; `config/example.yaml` documents each key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["socket", "http"] = "socket"
    """socket: Socket Mode over an app-level token; http: Slack POSTs to /slack/events."""
    bot_token: SecretStr
    """The Bot User OAuth Token, ``xoxb-…``."""
    app_token: SecretStr | None = None
    """The app-level token, ``xapp-…`` with ``connections:write`` (Socket Mode only)."""
    signing_secret: SecretStr | None = None
    """Basic Information → Signing Secret (HTTP mode only)."""
    api_url: str = DEFAULT_API_URL
    """The Web API base URL; Socket Mode URLs come from its ``apps.connections.open`` too."""
    rate_per_second: float = Field(1.0, gt=0)
    """Messages per second per channel the outbox sends (Slack allows about one)."""
    burst: int = Field(3, ge=1)
    """How many messages may go at once to a channel after a quiet spell."""
    bot_names: tuple[str, ...] = ("tocsin",)
    """Names typed as plain text to address the bot in a direct message (``@tocsin ack 1``)."""
    timeout: Duration = timedelta(seconds=10)
    """How long one Web API call may take before the outbox tries again later."""
    user_cache_ttl: Duration = timedelta(hours=1)
    """How long a looked-up display name (``users.info``) is remembered."""
    ping_interval: Duration = timedelta(seconds=10)
    """Socket Mode keep-alive ping interval."""
    reconnect_min: Duration = timedelta(seconds=1)
    """Socket Mode: the first wait before reconnecting; it doubles on each failure…"""
    reconnect_max: Duration = timedelta(seconds=60)
    """…up to this."""

    @field_validator("bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr) -> SecretStr:
        return section.prefixed(value, "xoxb-", "the Bot User OAuth Token")

    @field_validator("app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else section.prefixed(value, "xapp-", "an app-level token")

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("bot_names")
    @classmethod
    def _bot_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return section.bot_names(value)

    @property
    def web_timeout(self) -> int:
        """`timeout` in whole seconds, as slack_sdk takes it (at least one)."""
        return max(1, round(self.timeout.total_seconds()))


def parse(raw: Mapping[str, Any]) -> SlackSettings:
    """Validate the raw section; `ConfigError` lists every problem with its key path."""
    settings = section.read(SlackSettings, raw)
    problems = []
    if settings.mode == "socket" and settings.app_token is None:
        problems.append(
            "app_token: required in socket mode (an xapp-… token with connections:write)"
        )
    if settings.mode == "http" and not section.present(settings.signing_secret):
        problems.append(
            "signing_secret: required in http mode (Basic Information → Signing Secret)"
        )
    if settings.reconnect_min > settings.reconnect_max:
        problems.append("reconnect_min: must not be longer than reconnect_max")
    return section.checked(settings, problems)


def validate(raw: Mapping[str, Any]) -> list[str]:
    """The problems in the raw section, each ``"<key.path>: message"``; empty when valid."""
    return section.problems(parse, raw)
