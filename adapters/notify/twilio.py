"""Twilio: SMS through ``Messages.json`` and voice through ``Calls.json`` with inline TwiML, on
the REST API 2010-04-01 with HTTP Basic auth (the account SID and auth token, or an API key).

A call reads the page text twice (``<Say>``, a pause, ``<Say>`` again) in the page's language:
Chinese as ``cmn-CN``, anything else as ``en-US``, each with a configurable voice. The message id
is Twilio's ``sid``; the receipt status is Twilio's (``queued``, ``accepted``…).

- HTTP 429 (and error 14107, the SMS rate limit) and 5xx → `RetryableDelivery` with
  ``Retry-After``; timeouts and connection failures too;
- 401/403 (bad credentials), 400 with 21211 / 21614 (not a valid / not a mobile number),
  21610 (recipient opted out), 21408 (region not enabled) and every other 4xx →
  `PermanentDelivery`.
"""

from __future__ import annotations

from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

import httpx

from adapters.notify.http import Json, json_body, make_client, post, retry_after
from adapters.notify.settings import TwilioSmsSettings, TwilioVoiceSettings
from adapters.notify.values import brief, e164
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import Page, Receipt

API_URL = "https://api.twilio.com"
BODY_LIMIT = 1600
"""Twilio refuses a message body longer than this."""
TWIML_LIMIT = 4000
"""Twilio refuses a ``Twiml`` parameter longer than this."""
RATE_LIMIT_CODES = frozenset({14107, 20429})


def spoken(lang: str) -> tuple[str, Literal["zh", "en"]]:
    """The <Say> language for a page language, and the `voices` key of its voice."""
    return ("cmn-CN", "zh") if lang.lower().startswith("zh") else ("en-US", "en")


def say_twice(text: str, language: str, voice: str) -> str:
    """TwiML that reads `text` twice, with a pause between, shortened to fit Twilio's limit."""
    opening = f"<Say language={quoteattr(language)} voice={quoteattr(voice)}>"

    def build(words: str) -> str:
        say = f"{opening}{escape(words)}</Say>"
        return f'<Response>{say}<Pause length="1"/>{say}</Response>'

    words = " ".join(text.split())
    twiml = build(words)
    while len(twiml) > TWIML_LIMIT:
        words = words[: len(words) - (len(twiml) - TWIML_LIMIT) // 2 - 1]
        twiml = build(words)
    return twiml


class _TwilioApi:
    provider = "twilio"

    def __init__(
        self, settings: TwilioSmsSettings | TwilioVoiceSettings, client: httpx.AsyncClient | None
    ) -> None:
        self.settings = settings
        self.client = client or make_client(settings.base_url or API_URL, settings.timeout)
        self.auth = httpx.BasicAuth(*settings.login())

    async def create(self, resource: str, form: dict[str, str]) -> Json:
        what = f"twilio {resource}"
        url = f"/2010-04-01/Accounts/{self.settings.account_sid}/{resource}.json"
        response = await post(self.client, what, url, data=form, auth=self.auth)
        data = json_body(response)
        if 200 <= response.status_code < 300 and data.get("sid"):
            return data
        raise _error(what, response, data)

    async def aclose(self) -> None:
        await self.client.aclose()


def _error(
    what: str, response: httpx.Response, data: Json
) -> RetryableDelivery | PermanentDelivery:
    status = response.status_code
    code = data.get("code")
    reason = f"{what}: HTTP {status}" + (f" error {code}" if code else "")
    message = brief(data.get("message"))
    reason = f"{reason} {message}".rstrip()
    if status == 429 or status >= 500 or code in RATE_LIMIT_CODES:
        return RetryableDelivery(reason, retry_after(response))
    if status in (401, 403):
        return PermanentDelivery(
            f"{what}: HTTP {status} authentication failed (check the SID and token)"
        )
    return PermanentDelivery(reason)


class TwilioSms(_TwilioApi):
    channel = "sms"

    def __init__(
        self, settings: TwilioSmsSettings, *, client: httpx.AsyncClient | None = None
    ) -> None:
        super().__init__(settings, client)
        self.sms = settings

    async def send(self, page: Page) -> Receipt:
        form = {"To": e164(page), "Body": page.text[:BODY_LIMIT]}
        if self.sms.messaging_service_sid is not None:
            form["MessagingServiceSid"] = self.sms.messaging_service_sid
        else:
            assert self.sms.from_number is not None
            form["From"] = self.sms.from_number
        data = await self.create("Messages", form)
        return Receipt(self.provider, _text(data["sid"]), _text(data.get("status")) or "queued")


class TwilioVoice(_TwilioApi):
    channel = "voice"

    def __init__(
        self, settings: TwilioVoiceSettings, *, client: httpx.AsyncClient | None = None
    ) -> None:
        super().__init__(settings, client)
        self.voice = settings

    async def send(self, page: Page) -> Receipt:
        language, key = spoken(page.lang)
        twiml = say_twice(page.text, language, self.voice.voices[key])
        form = {"To": e164(page), "From": self.voice.from_number, "Twiml": twiml}
        data = await self.create("Calls", form)
        return Receipt(self.provider, _text(data["sid"]), _text(data.get("status")) or "queued")


def _text(value: Any) -> str:
    return "" if value is None else str(value)
