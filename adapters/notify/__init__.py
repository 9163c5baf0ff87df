"""Paging providers: e-mail over SMTP, and SMS and voice calls through Aliyun, Tencent Cloud or
Twilio — each a `bot.ports.Notifier`. No SDKs: small httpx clients that sign requests
themselves (Aliyun RPC v1, Tencent Cloud TC3), and aiosmtplib.

The composition root uses three functions on the raw ``pagers:`` section:

- `validate(raw)` — its problems, ``"<channel.key>: message"`` each; empty when valid;
- `create(raw, clock=…, public_url=…)` — each configured channel's providers in failover
  order (`bot.ports.Provider`, wrapping a `Notifier`), keyed ``email`` / ``sms`` / ``voice``.
  Nothing connects before the first send; call ``aclose()`` on each notifier at shutdown;
- `callback_routes(providers, events, public_url)` — the HTTP routes providers call back on
  (delivery reports, SMS replies, keypresses), ``/api/v1/pagers/<name>/<channel>/…``.

Modules: `settings` (the section), `memory` (the in-memory fake), `email`, `aliyun` +
`aliyun_sign`, `tencent` + `tencent_sign`, `twilio`, `http` (the shared HTTP edge), `values`
(numbers and template values). Provider modules are imported only when configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.notify.callbacks import callback_routes
from adapters.notify.memory import MemoryNotifier
from adapters.notify.settings import PagerSettings, parse, validate
from bot.clock import Clock
from bot.ports import Notifier, Provider

__all__ = ["MemoryNotifier", "PagerSettings", "callback_routes", "create", "notifier", "validate"]


def create(
    raw: Mapping[str, Any], *, clock: Clock | None = None, public_url: str = ""
) -> dict[str, tuple[Provider, ...]]:
    """Each configured channel's providers in failover order (raises `ConfigError` when the
    section is invalid). `public_url`: Tocsin's address as providers reach it, for callbacks."""
    settings = parse(raw)
    made: dict[str, tuple[Provider, ...]] = {}
    if settings.email is not None:
        email = notifier("email", settings.email, clock=clock)
        made["email"] = (Provider(email.provider, email),)
    for channel in ("sms", "voice"):
        chain = tuple(
            Provider(
                section.label,
                notifier(channel, section, clock=clock, public_url=public_url),
                confirm_within=section.confirm_within,
                prefixes=section.prefixes,
            )
            for section in getattr(settings, channel)
        )
        if chain:
            made[channel] = chain
    return made


def notifier(
    channel: str, section: Any, *, clock: Clock | None = None, public_url: str = ""
) -> Notifier:
    """The `Notifier` for one validated channel section."""
    from adapters.notify import settings as s

    if isinstance(section, s.MemorySettings | s.EmailMemory):
        return MemoryNotifier(channel)
    if isinstance(section, s.EmailSettings):
        from adapters.notify.email import EmailNotifier

        return EmailNotifier(section, clock=clock)
    if isinstance(section, s.AliyunSmsSettings | s.AliyunVoiceSettings):
        from adapters.notify.aliyun import AliyunSms, AliyunVoice

        if isinstance(section, s.AliyunSmsSettings):
            return AliyunSms(section, clock=clock, public_url=public_url)
        return AliyunVoice(section, clock=clock, public_url=public_url)
    if isinstance(section, s.TencentSmsSettings | s.TencentVoiceSettings):
        from adapters.notify.tencent import TencentSms, TencentVoice

        if isinstance(section, s.TencentSmsSettings):
            return TencentSms(section, clock=clock, public_url=public_url)
        return TencentVoice(section, clock=clock, public_url=public_url)
    from adapters.notify.twilio import TwilioSms, TwilioVoice

    if isinstance(section, s.TwilioSmsSettings):
        return TwilioSms(section, public_url=public_url, clock=clock)
    if isinstance(section, s.TwilioVoiceSettings):
        return TwilioVoice(section, public_url=public_url, clock=clock)
    raise TypeError(f"no notifier for {type(section).__name__}")
