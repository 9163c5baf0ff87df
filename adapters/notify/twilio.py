"""Twilio: SMS through ``Messages.json`` and voice through ``Calls.json`` with inline TwiML, on
the REST API 2010-04-01 with HTTP Basic auth (the account SID and auth token, or an API key).

A call reads the page text twice in the page's language (`adapters.notify.twilio_twiml`). The
message id is Twilio's ``sid``; the receipt status is Twilio's (``queued``, ``accepted``…).

With Tocsin's `public_url` and the auth token (which signs Twilio's callbacks), each send asks
for its status callback, an SMS ends with the page's reply prompt (``replies``), and a call
reads the keypress prompt inside a ``<Gather>`` (``keypress``); `callback_routes` gives the
routes those callbacks reach (`adapters.notify.twilio_hooks`). Without them, sends carry no
callback and a call reads the page twice.

- HTTP 429 (and error 14107, the SMS rate limit) and 5xx → `RetryableDelivery` with
  ``Retry-After``; timeouts and connection failures too;
- 401/403 (bad credentials), 400 with 21211 / 21614 (not a valid / not a mobile number),
  21610 (recipient opted out), 21408 (region not enabled) and every other 4xx →
  `PermanentDelivery`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.routing import Route

from adapters.notify.callbacks import path
from adapters.notify.http import Json, json_body, make_client, post, retry_after
from adapters.notify.settings import TwilioSmsSettings, TwilioVoiceSettings
from adapters.notify.twilio_hooks import Hooks, sms_routes, voice_routes
from adapters.notify.twilio_twiml import TWIML_LIMIT, gather, say_twice, spoken
from adapters.notify.values import brief, e164
from bot.clock import Clock, SystemClock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.paging.events import PhoneEvents
from bot.ports import Page, Receipt

__all__ = ["BODY_LIMIT", "TWIML_LIMIT", "TwilioSms", "TwilioVoice", "say_twice", "spoken"]

API_URL = "https://api.twilio.com"
BODY_LIMIT = 1600
"""Twilio refuses a message body longer than this."""
RATE_LIMIT_CODES = frozenset({14107, 20429})


class _TwilioApi:
    provider = "twilio"
    channel: str

    def __init__(
        self,
        settings: TwilioSmsSettings | TwilioVoiceSettings,
        client: httpx.AsyncClient | None,
        public_url: str,
        clock: Clock | None,
    ) -> None:
        self.settings = settings
        self.client = client or make_client(settings.base_url or API_URL, settings.timeout)
        self.auth = httpx.BasicAuth(*settings.login())
        self.name = settings.label
        self.public_url = public_url.rstrip("/")
        self.clock = clock or SystemClock()

    @property
    def callbacks(self) -> bool:
        """Whether Twilio can call back and be believed: a public address, and the auth token."""
        return bool(self.public_url) and self.settings.callbacks

    def hooks_url(self, event: str) -> str:
        """The public address Twilio is given for one of this provider's callbacks."""
        return f"{self.public_url}{path(self.name, self.channel, event)}"

    def hooks(self, events: PhoneEvents) -> Hooks:
        assert self.settings.auth_token is not None
        token = self.settings.auth_token.get_secret_value()
        return Hooks(self.name, self.public_url, token, self.clock, events)

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
        self,
        settings: TwilioSmsSettings,
        *,
        client: httpx.AsyncClient | None = None,
        public_url: str = "",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(settings, client, public_url, clock)
        self.sms = settings

    @property
    def replies(self) -> bool:
        return self.callbacks and self.sms.replies

    async def send(self, page: Page) -> Receipt:
        form = {"To": e164(page), "Body": body(page, prompted=self.replies)}
        if self.sms.messaging_service_sid is not None:
            form["MessagingServiceSid"] = self.sms.messaging_service_sid
        else:
            assert self.sms.from_number is not None
            form["From"] = self.sms.from_number
        if self.callbacks:
            form["StatusCallback"] = self.hooks_url("status")
        data = await self.create("Messages", form)
        return Receipt(self.provider, _text(data["sid"]), _text(data.get("status")) or "queued")

    def callback_routes(self, events: PhoneEvents) -> list[Route]:
        """The status callback and inbound SMS routes (none when callbacks are off)."""
        if not self.callbacks:
            return []
        return sms_routes(self.hooks(events), replies=self.replies)


class TwilioVoice(_TwilioApi):
    channel = "voice"

    def __init__(
        self,
        settings: TwilioVoiceSettings,
        *,
        client: httpx.AsyncClient | None = None,
        public_url: str = "",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(settings, client, public_url, clock)
        self.voice = settings

    @property
    def keypress(self) -> bool:
        return self.callbacks and self.voice.keypress

    async def send(self, page: Page) -> Receipt:
        form = {"To": e164(page), "From": self.voice.from_number, "Twiml": self.twiml(page)}
        if self.callbacks:
            form |= {
                "StatusCallback": self.hooks_url("status"),
                "StatusCallbackEvent": "completed",
                "StatusCallbackMethod": "POST",
            }
        data = await self.create("Calls", form)
        return Receipt(self.provider, _text(data["sid"]), _text(data.get("status")) or "queued")

    def twiml(self, page: Page) -> str:
        """What the call reads: the page and its keypress prompt, else the page twice."""
        language, key = spoken(page.lang)
        voice = self.voice.voices[key]
        if self.keypress and page.prompt:
            action = f"{self.hooks_url('gather')}?{urlencode({'lang': page.lang})}"
            return gather(page.text, page.prompt, action, language, voice)
        return say_twice(page.text, language, voice)

    def callback_routes(self, events: PhoneEvents) -> list[Route]:
        """The call status and keypress routes (none when callbacks are off)."""
        if not self.callbacks:
            return []
        hooks = self.hooks(events)
        return voice_routes(hooks, keypress=self.keypress, voices=self.voice.voices)


def body(page: Page, *, prompted: bool) -> str:
    """The SMS: the page text, then its reply prompt when replies are taken; the text is
    shortened to fit Twilio's limit, the prompt never. A prompt already ending the text is
    moved, not repeated."""
    if not prompted or not page.prompt:
        return page.text[:BODY_LIMIT]
    prompt = " ".join(page.prompt.split())
    text = page.text.strip().removesuffix(page.prompt.strip()).rstrip()
    room = BODY_LIMIT - len(prompt) - 1
    if room <= 0:
        return prompt[:BODY_LIMIT]
    if len(text) > room:
        text = text[: room - 1] + "…"
    return f"{text} {prompt}" if text else prompt


def _text(value: Any) -> str:
    return "" if value is None else str(value)
