"""The ``pagers:`` section: which provider sends each paging channel, and its credentials.

```yaml
pagers:
  email: {host: smtp.example.com, port: 587, security: starttls, sender: "Tocsin <t@example.com>"}
  sms:   {provider: aliyun, access_key_id: …, access_key_secret: …, sign_name: …, …}
  voice: {provider: tencent, secret_id: …, secret_key: …, sdk_app_id: …, template_id: …}
```

Each channel is optional. ``sms`` and ``voice`` name a ``provider`` (aliyun, tencent, twilio or
memory); the rest of the mapping is that provider's model for that channel, so a key that does
not belong (``tts_code`` under ``sms``) is refused by name. `parse(raw)` gives a frozen
`PagerSettings` or raises `ConfigError` with problems such as ``sms.access_key_id: required key is
missing``; the composition root prefixes ``pagers.``. Secrets are `SecretStr`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from adapters.edge.section import problems as section_problems
from bot.errors import ConfigError
from bot.settings.durations import Duration
from bot.settings.loader import format_error

PageField = Literal["id", "tier", "title", "service", "environment", "url"]
"""The `Page.params` a template variable may take its value from."""
CHANNELS = ("email", "sms", "voice")
PROVIDERS = ("aliyun", "tencent", "twilio", "memory")
TWILIO_VOICES: dict[Literal["zh", "en"], str] = {"zh": "Polly.Zhiyu", "en": "Polly.Joanna"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return value.rstrip("/") if value is not None else None


class EmailSettings(_Frozen):
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    """``starttls`` (port 587), ``tls`` (implicit TLS, port 465) or ``none`` (a local relay)."""
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(min_length=3)
    """The From header, ``Tocsin <tocsin@example.com>`` or a bare address."""
    timeout: Duration = timedelta(seconds=10)
    validate_certs: bool = True
    """Off only for a relay with a self-signed certificate."""

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("must be an e-mail address, e.g. 'Tocsin <tocsin@example.com>'")
        return value

    @model_validator(mode="after")
    def _login(self) -> EmailSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class _Provider(_Frozen):
    base_url: str | None = None
    """The API's base URL; only for a proxy or a test server."""
    timeout: Duration = timedelta(seconds=10)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return _http_url(value)


class MemorySettings(_Frozen):
    """An in-memory pager that records pages (for demos and tests)."""

    provider: Literal["memory"]


class _Aliyun(_Provider):
    provider: Literal["aliyun"]
    access_key_id: str = Field(min_length=1)
    access_key_secret: SecretStr
    region: str = "cn-hangzhou"
    template_params: dict[str, PageField] = {}
    """Template variable → the page value it shows, e.g. ``{title: title, id: id}``."""
    max_param_length: int | None = Field(35, ge=1)
    """Longer values are shortened with "…" (Aliyun refuses overlong variables); null: as is."""
    international_prefix: Literal["00", ""] = "00"
    """Before the country code of a number outside the mainland: ``00`` (``0085261234567``,
    the SendSms docs' long-standing form) or nothing (``85261234567``, newer docs' form)."""


class AliyunSmsSettings(_Aliyun):
    sign_name: str = Field(min_length=1)
    template_code: str = Field(min_length=1)


class AliyunVoiceSettings(_Aliyun):
    tts_code: str = Field(min_length=1)
    called_show_number: str = Field(min_length=1)
    """The caller number shown (a number bought in the voice console)."""
    play_times: int = Field(2, ge=1, le=3)


class _Tencent(_Provider):
    provider: Literal["tencent"]
    secret_id: str = Field(min_length=1)
    secret_key: SecretStr
    region: str = "ap-guangzhou"
    sdk_app_id: str = Field(min_length=1)
    template_id: str = Field(min_length=1)
    template_params: tuple[PageField, ...] = ()
    """The template's ``{1}``, ``{2}``… in order, e.g. ``[id, title, service]``."""
    max_param_length: int | None = Field(35, ge=1)

    @field_validator("sdk_app_id", "template_id", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class TencentSmsSettings(_Tencent):
    sign_name: str = Field(min_length=1)


class TencentVoiceSettings(_Tencent):
    play_times: int = Field(2, ge=1, le=3)


class _Twilio(_Provider):
    provider: Literal["twilio"]
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr | None = None
    api_key_sid: str | None = Field(None, pattern=r"^SK[0-9a-fA-F]{32}$")
    api_key_secret: SecretStr | None = None
    from_number: str | None = Field(None, pattern=r"^\+[1-9]\d{4,14}$")

    @model_validator(mode="after")
    def _credentials(self) -> _Twilio:
        by_key = self.api_key_sid is not None or self.api_key_secret is not None
        if by_key and (self.api_key_sid is None or self.api_key_secret is None):
            raise ValueError("api_key_sid and api_key_secret go together")
        if by_key == (self.auth_token is not None):
            raise ValueError("set either auth_token or api_key_sid + api_key_secret")
        return self

    def login(self) -> tuple[str, str]:
        """HTTP Basic credentials: the API key when set, else the account SID and token."""
        if self.api_key_sid is not None and self.api_key_secret is not None:
            return self.api_key_sid, self.api_key_secret.get_secret_value()
        assert self.auth_token is not None
        return self.account_sid, self.auth_token.get_secret_value()


class TwilioSmsSettings(_Twilio):
    messaging_service_sid: str | None = Field(None, pattern=r"^MG[0-9a-fA-F]{32}$")

    @model_validator(mode="after")
    def _sender(self) -> TwilioSmsSettings:
        if (self.from_number is None) == (self.messaging_service_sid is None):
            raise ValueError("set either from_number or messaging_service_sid")
        return self


class TwilioVoiceSettings(_Twilio):
    from_number: str = Field(pattern=r"^\+[1-9]\d{4,14}$")
    voices: dict[Literal["zh", "en"], str] = TWILIO_VOICES
    """The <Say> voice per language (Chinese is spoken as cmn-CN, English as en-US); a
    language left out keeps its default."""

    @field_validator("voices")
    @classmethod
    def _voices(cls, value: dict[Literal["zh", "en"], str]) -> dict[Literal["zh", "en"], str]:
        return {**TWILIO_VOICES, **value}


PhoneSettings = (
    MemorySettings
    | AliyunSmsSettings
    | AliyunVoiceSettings
    | TencentSmsSettings
    | TencentVoiceSettings
    | TwilioSmsSettings
    | TwilioVoiceSettings
)
_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("sms", "memory"): MemorySettings,
    ("voice", "memory"): MemorySettings,
    ("sms", "aliyun"): AliyunSmsSettings,
    ("voice", "aliyun"): AliyunVoiceSettings,
    ("sms", "tencent"): TencentSmsSettings,
    ("voice", "tencent"): TencentVoiceSettings,
    ("sms", "twilio"): TwilioSmsSettings,
    ("voice", "twilio"): TwilioVoiceSettings,
}


class EmailMemory(MemorySettings):
    """``email: {provider: memory}`` — record e-mails instead of sending them."""


class PagerSettings(_Frozen):
    """The validated section: each channel's settings, None when it is not configured."""

    email: EmailSettings | EmailMemory | None = None
    sms: PhoneSettings | None = None
    voice: PhoneSettings | None = None


def parse(raw: Mapping[str, Any]) -> PagerSettings:
    """Validate the raw section; `ConfigError` lists every problem with its key path."""
    if not isinstance(raw, Mapping):
        raise ConfigError(["(section): must be a mapping of channels (email, sms, voice)"])
    problems: list[str] = []
    parsed: dict[str, Any] = {}
    for channel, section in raw.items():
        if channel not in CHANNELS:
            problems.append(f"{channel}: unknown channel (use email, sms or voice)")
        elif section is not None:
            model = _model(channel, section, problems)
            if model is not None:
                try:
                    parsed[channel] = model.model_validate(section)
                except ValidationError as exc:
                    problems += [_problem(channel, err) for err in exc.errors()]
    if problems:
        raise ConfigError(problems)
    return PagerSettings.model_construct(**parsed)  # each channel is validated above


def validate(raw: Mapping[str, Any]) -> list[str]:
    """The problems in the raw section, each ``"<channel.key>: message"``; empty when valid."""
    return section_problems(parse, raw)


def _model(channel: str, section: Any, problems: list[str]) -> type[BaseModel] | None:
    if not isinstance(section, Mapping):
        problems.append(f"{channel}: must be a mapping of keys")
        return None
    if channel == "email":
        return EmailMemory if section.get("provider") == "memory" else EmailSettings
    provider = section.get("provider")
    if provider is None:
        problems.append(f"{channel}.provider: required key is missing ({', '.join(PROVIDERS)})")
        return None
    if provider not in PROVIDERS:
        problems.append(
            f"{channel}.provider: unknown provider {provider!r} ({', '.join(PROVIDERS)})"
        )
        return None
    return _MODELS[(channel, str(provider))]


def _problem(channel: str, err: Any) -> str:
    line = format_error(err, channel)
    return f"{channel}.{line}" if err["loc"] else line
