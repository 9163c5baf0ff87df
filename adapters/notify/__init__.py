"""Paging providers: e-mail over SMTP, and SMS and voice calls through Aliyun, Tencent Cloud or
Twilio — each a `bot.ports.Notifier`. No SDKs: small httpx clients that sign requests
themselves (Aliyun RPC v1, Tencent Cloud TC3), and aiosmtplib.

The composition root uses two functions on the raw ``pagers:`` section:

- `validate(raw)` — its problems, ``"<channel.key>: message"`` each; empty when valid;
- `create(raw, clock=…)` — a `Notifier` per configured channel, keyed ``email`` / ``sms`` /
  ``voice``. Nothing connects before the first send; call ``aclose()`` on each at shutdown.

Modules: `settings` (the section), `memory` (the in-memory fake), `email`, `aliyun` +
`aliyun_sign`, `tencent` + `tencent_sign`, `twilio`, `http` (the shared HTTP edge), `values`
(numbers and template values). Provider modules are imported only when configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.notify.memory import MemoryNotifier
from adapters.notify.settings import PagerSettings, parse, validate
from bot.clock import Clock
from bot.ports import Notifier

__all__ = ["MemoryNotifier", "PagerSettings", "create", "notifier", "validate"]


def create(raw: Mapping[str, Any], *, clock: Clock | None = None) -> dict[str, Notifier]:
    """A `Notifier` for each channel of the raw section (raises `ConfigError` when invalid)."""
    settings = parse(raw)
    made: dict[str, Notifier] = {}
    for channel in ("email", "sms", "voice"):
        section = getattr(settings, channel)
        if section is not None:
            made[channel] = notifier(channel, section, clock=clock)
    return made


def notifier(channel: str, section: Any, *, clock: Clock | None = None) -> Notifier:
    """The `Notifier` for one validated channel section."""
    from adapters.notify import settings as s

    if isinstance(section, s.MemorySettings):
        return MemoryNotifier(channel)
    if isinstance(section, s.EmailSettings):
        from adapters.notify.email import EmailNotifier

        return EmailNotifier(section, clock=clock)
    if isinstance(section, s.AliyunSmsSettings | s.AliyunVoiceSettings):
        from adapters.notify.aliyun import AliyunSms, AliyunVoice

        if isinstance(section, s.AliyunSmsSettings):
            return AliyunSms(section, clock=clock)
        return AliyunVoice(section, clock=clock)
    if isinstance(section, s.TencentSmsSettings | s.TencentVoiceSettings):
        from adapters.notify.tencent import TencentSms, TencentVoice

        if isinstance(section, s.TencentSmsSettings):
            return TencentSms(section, clock=clock)
        return TencentVoice(section, clock=clock)
    from adapters.notify.twilio import TwilioSms, TwilioVoice

    if isinstance(section, s.TwilioSmsSettings):
        return TwilioSms(section)
    if isinstance(section, s.TwilioVoiceSettings):
        return TwilioVoice(section)
    raise TypeError(f"no notifier for {type(section).__name__}")
