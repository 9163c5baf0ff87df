"""The ``pagers:`` section: which provider sends each paging channel, and its credentials.

```yaml
pagers:
  email: {host: smtp.example.com, port: 587, security: starttls, sender: "Tocsin <t@example.com>"}
  sms:   {provider: aliyun, access_key_id: …, access_key_secret: …, sign_name: …, …}
  voice: {provider: tencent, secret_id: …, secret_key: …, sdk_app_id: …, template_id: …}
```

Each channel is optional. ``sms`` and ``voice`` name a ``provider`` (aliyun, tencent, twilio or
memory), or list several in failover order; the rest of each mapping is that provider's model
for that channel, so a key that does not belong (``tts_code`` under ``sms``) is refused by name.

```yaml
  sms:
    - {provider: aliyun, prefixes: ["+86"], confirm_within: 2m, …}   # mainland numbers first here
    - {provider: tencent, confirm_within: 2m, …}
    - {provider: twilio, …}                                          # the last resort
```

A provider's ``name`` (its kind unless set; unique within its channel) is what callback paths
(``/api/v1/pagers/<name>/…``), receipts and a person's ``contact.providers`` refer to.
``confirm_within``: a send not confirmed delivered by then moves on to the next provider that
takes the number (``prefixes``: E.164 prefixes; empty: any). `parse(raw)` gives a frozen
`PagerSettings` or raises `ConfigError` with problems such as ``sms.access_key_id: required key is
missing``; the composition root prefixes ``pagers.``. Secrets are `SecretStr`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
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

PageField = Literal["id", "tier", "title", "service", "environment", "url", "code"]
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


NAME = r"^[a-z][a-z0-9_-]{0,31}$"


def _url_token(value: SecretStr) -> SecretStr:
    if not re.fullmatch(r"[A-Za-z0-9._~-]{16,}", value.get_secret_value()):
        raise ValueError("must be at least 16 URL-safe characters (letters, digits, . _ ~ -)")
    return value


CallbackToken = Annotated[SecretStr, AfterValidator(_url_token)]
"""The secret a provider that signs nothing puts in its callback URLs (``?token=…``)."""


class _Chained(_Frozen):
    """What every SMS and voice provider has: its place in the channel's failover order."""

    name: str | None = Field(None, pattern=NAME)
    """Unique within its channel; default: the provider's kind (``aliyun``)."""
    confirm_within: Duration | None = None
    """A send not confirmed delivered within this moves on to the next provider (only where
    the provider reports delivery: a status callback, a receipt push or polling)."""
    prefixes: tuple[str, ...] = ()
    """E.164 prefixes of the numbers this provider takes (``["+86", "+852"]``); empty: any."""

    @field_validator("prefixes")
    @classmethod
    def _prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for prefix in value:
            if not re.fullmatch(r"\+[1-9]\d{0,13}", prefix):
                raise ValueError(f"{prefix!r} is not an E.164 prefix such as '+86'")
        return value

    @property
    def label(self) -> str:
        """The provider's name: as configured, else its kind."""
        return self.name or str(getattr(self, "provider", ""))


class _Provider(_Chained):
    base_url: str | None = None
    """The API's base URL; only for a proxy or a test server."""
    timeout: Duration = timedelta(seconds=10)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return _http_url(value)


class MemorySettings(_Chained):
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
    callback_token: CallbackToken | None = None
    """The secret in the receipt-push URLs given to Aliyun's console
    (``<public_url>/api/v1/pagers/<name>/sms/report?token=…``): Aliyun does not sign its pushes.
    Unset: no push routes (receipts are then polled)."""


class AliyunSmsSettings(_Aliyun):
    sign_name: str = Field(min_length=1)
    template_code: str = Field(min_length=1)


class AliyunIvr(_Frozen):
    """IvrCall's menu: `AliyunVoiceSettings.tts_code` is read first, then the key's template."""

    keys: dict[Literal["1", "2"], str]
    """The TTS template played after each key, e.g. ``{"1": TTS_1001, "2": TTS_1002}``
    ("acknowledging…" / "escalating…"; a call cannot wait for Tocsin's answer)."""
    bye_code: str | None = None
    """The TTS template played when no key was pressed."""
    timeout: Duration = timedelta(seconds=10)
    """How long the menu waits for a key."""

    @field_validator("keys")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        if set(value) != {"1", "2"} or not all(value.values()):
            raise ValueError("give a TTS template code for both keys, 1 and 2")
        return value


class AliyunVoiceSettings(_Aliyun):
    tts_code: str = Field(min_length=1)
    called_show_number: str = Field(min_length=1)
    """The caller number shown (a number bought in the voice console)."""
    play_times: int = Field(2, ge=1, le=3)
    ivr: AliyunIvr | None = None
    """Set: calls to mainland numbers are IvrCall menus taking keys 1 (acknowledge) and 2
    (escalate) instead of SingleCallByTts; the keys arrive in the VoiceReport push."""


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
    callback_token: CallbackToken | None = None
    """The secret in the callback URLs set in Tencent's console (``…?token=<callback_token>``):
    Tencent does not sign its callbacks, so this is what tells them from forgeries. At least 16
    URL-safe characters; unset: no callback routes (no receipts, replies or keypresses)."""

    @field_validator("sdk_app_id", "template_id", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class TencentSmsSettings(_Tencent):
    sign_name: str = Field(min_length=1)


class TencentVoiceSettings(_Tencent):
    play_times: int = Field(2, ge=1, le=3)


class _Twilio(_Provider):
    """Twilio signs its callbacks (delivery status, SMS replies, keypresses) with the account's
    auth token, never with an API key: with an API key alone, Tocsin sends without callbacks
    (no delivery receipts, no replies), and a setting that needs them is refused."""

    provider: Literal["twilio"]
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr | None = None
    """Logs in when no API key is set; checks callbacks' ``X-Twilio-Signature`` either way."""
    api_key_sid: str | None = Field(None, pattern=r"^SK[0-9a-fA-F]{32}$")
    api_key_secret: SecretStr | None = None
    from_number: str | None = Field(None, pattern=r"^\+[1-9]\d{4,14}$")

    @model_validator(mode="after")
    def _credentials(self) -> _Twilio:
        by_key = self.api_key_sid is not None or self.api_key_secret is not None
        if by_key and (self.api_key_sid is None or self.api_key_secret is None):
            raise ValueError("api_key_sid and api_key_secret go together")
        if not by_key and self.auth_token is None:
            raise ValueError(
                "set either auth_token or api_key_sid + api_key_secret (the auth token as well "
                "for delivery receipts and replies: Twilio signs its callbacks with it)"
            )
        if self.auth_token is None:
            wanted = [key for key in self._needs_callbacks() if key in self.model_fields_set]
            if wanted:
                verb = "needs" if len(wanted) == 1 else "need"
                raise ValueError(
                    f"{' and '.join(wanted)} {verb} auth_token: Twilio signs its callbacks "
                    "with the account's auth token, which an API key cannot check"
                )
        return self

    def _needs_callbacks(self) -> tuple[str, ...]:
        return ("confirm_within",) if self.confirm_within is not None else ()

    @property
    def callbacks(self) -> bool:
        """Whether Twilio's callbacks can be verified (the auth token is known)."""
        return self.auth_token is not None

    def login(self) -> tuple[str, str]:
        """HTTP Basic credentials: the API key when set, else the account SID and token."""
        if self.api_key_sid is not None and self.api_key_secret is not None:
            return self.api_key_sid, self.api_key_secret.get_secret_value()
        assert self.auth_token is not None
        return self.account_sid, self.auth_token.get_secret_value()


class TwilioSmsSettings(_Twilio):
    messaging_service_sid: str | None = Field(None, pattern=r"^MG[0-9a-fA-F]{32}$")
    replies: bool = True
    """Add the page's "Reply 1 to acknowledge…" to each SMS and take the replies (point the
    number's incoming-message webhook at ``<public_url>/api/v1/pagers/<name>/sms/inbound``)."""

    def _needs_callbacks(self) -> tuple[str, ...]:
        return (*super()._needs_callbacks(), *(("replies",) if self.replies else ()))

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
    keypress: bool = True
    """Read the page's "Press 1 to acknowledge…" and take the key pressed."""

    def _needs_callbacks(self) -> tuple[str, ...]:
        return (*super()._needs_callbacks(), *(("keypress",) if self.keypress else ()))

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


class EmailMemory(_Frozen):
    """``email: {provider: memory}`` — record e-mails instead of sending them."""

    provider: Literal["memory"]


class PagerSettings(_Frozen):
    """The validated section: e-mail's settings (None when not configured) and each phone
    channel's providers in failover order (empty when not configured)."""

    email: EmailSettings | EmailMemory | None = None
    sms: tuple[PhoneSettings, ...] = ()
    voice: tuple[PhoneSettings, ...] = ()

    def providers(self) -> list[tuple[str, PhoneSettings]]:
        """Every SMS and voice provider with its channel."""
        return [("sms", p) for p in self.sms] + [("voice", p) for p in self.voice]


def parse(raw: Mapping[str, Any]) -> PagerSettings:
    """Validate the raw section; `ConfigError` lists every problem with its key path."""
    if not isinstance(raw, Mapping):
        raise ConfigError(["(section): must be a mapping of channels (email, sms, voice)"])
    problems: list[str] = []
    parsed: dict[str, Any] = {}
    for channel, section in raw.items():
        if channel not in CHANNELS:
            problems.append(f"{channel}: unknown channel (use email, sms or voice)")
        elif section is None:
            continue
        elif channel == "email":
            parsed[channel] = _one(channel, channel, section, problems)
        elif isinstance(section, list | tuple):
            if not section:
                problems.append(f"{channel}: list at least one provider, or leave it out")
            parsed[channel] = tuple(
                _one(channel, f"{channel}[{i}]", item, problems) for i, item in enumerate(section)
            )
        else:
            parsed[channel] = (_one(channel, channel, section, problems),)
    for channel in ("sms", "voice"):
        seen: dict[str, int] = {}
        for i, provider in enumerate(parsed.get(channel, ())):
            if provider is None:
                continue
            if provider.label in seen:
                problems.append(
                    f"{channel}[{i}].name: {provider.label!r} is already {channel}"
                    f"[{seen[provider.label]}]'s name; give each of them its own"
                )
            seen.setdefault(provider.label, i)
    if problems:
        raise ConfigError(problems)
    return PagerSettings.model_construct(**parsed)  # each channel is validated above


def _one(channel: str, where: str, section: Any, problems: list[str]) -> Any:
    model = _model(channel, where, section, problems)
    if model is None:
        return None
    try:
        return model.model_validate(section)
    except ValidationError as exc:
        problems += [_problem(where, err) for err in exc.errors()]
        return None


def validate(raw: Mapping[str, Any]) -> list[str]:
    """The problems in the raw section, each ``"<channel.key>: message"``; empty when valid."""
    return section_problems(parse, raw)


def _model(channel: str, where: str, section: Any, problems: list[str]) -> type[BaseModel] | None:
    if not isinstance(section, Mapping):
        problems.append(f"{where}: must be a mapping of keys")
        return None
    if channel == "email":
        return EmailMemory if section.get("provider") == "memory" else EmailSettings
    provider = section.get("provider")
    if provider is None:
        problems.append(f"{where}.provider: required key is missing ({', '.join(PROVIDERS)})")
        return None
    if provider not in PROVIDERS:
        problems.append(f"{where}.provider: unknown provider {provider!r} ({', '.join(PROVIDERS)})")
        return None
    return _MODELS[(channel, str(provider))]


def _problem(channel: str, err: Any) -> str:
    line = format_error(err, channel)
    return f"{channel}.{line}" if err["loc"] else line
