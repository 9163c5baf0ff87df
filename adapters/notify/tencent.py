"""Tencent Cloud (腾讯云): SMS through ``sms.tencentcloudapi.com`` ``SendSms`` (2021-01-11) and
voice through ``vms.tencentcloudapi.com`` ``SendTtsVoice`` (2020-09-02), JSON POSTs signed with
TC3-HMAC-SHA256 (`tencent_sign`). ``SessionContext`` carries the page key; numbers are E.164.

Errors come back with HTTP 200 as ``Response.Error.Code``; an SMS also has a per-number
``SendStatusSet[0].Code`` that must be ``Ok``:

- ``RequestLimitExceeded*``, ``InternalError*``, ``ResourceUnavailable*`` → `RetryableDelivery`;
  ``LimitExceeded.PhoneNumberThirtySecondLimit`` / ``…OneHourLimit`` (per-number limits) too,
  after 30 s / an hour;
- everything else (``AuthFailure*``, ``InvalidParameter*``, ``FailedOperation.*``,
  ``UnauthorizedOperation.*``, a daily limit…) → `PermanentDelivery`;
- no readable answer: HTTP 429/5xx are retryable, anything else permanent.

Delivery reports, SMS replies and keypresses come back through the callback URLs set in
Tencent's console; `callback_urls()` lists them and `callback_routes(events)` serves them
(`tencent_hooks`, which says what Tencent documents and how the routes are protected).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.routing import BaseRoute

from adapters.notify import tencent_hooks, tencent_sign
from adapters.notify.callbacks import path
from adapters.notify.http import Json, json_body, make_client, post, retry_after
from adapters.notify.settings import TencentSmsSettings, TencentVoiceSettings
from adapters.notify.values import brief, e164, ordered_params
from bot.clock import Clock, SystemClock
from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery
from bot.paging.events import PhoneEvents
from bot.ports import Page, Receipt

SMS_URL = "https://sms.tencentcloudapi.com"
VOICE_URL = "https://vms.tencentcloudapi.com"
RETRYABLE = ("RequestLimitExceeded", "InternalError", "ResourceUnavailable")
NUMBER_LIMITS = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30.0,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600.0,
}


def api_error(
    what: str, code: str, message: str, response: httpx.Response | None = None
) -> DeliveryError:
    """The `DeliveryError` for an error code (empty when the answer had none)."""
    reason = f"{what}: {code} {brief(message)}".rstrip()
    wait = retry_after(response) if response is not None else None
    status = response.status_code if response is not None else 200
    if code in NUMBER_LIMITS:
        return RetryableDelivery(reason, wait or NUMBER_LIMITS[code])
    if code.startswith(RETRYABLE):
        return RetryableDelivery(reason, wait)
    if not code and (status == 429 or status >= 500):
        return RetryableDelivery(f"{what}: HTTP {status}", wait)
    return PermanentDelivery(reason if code else f"{what}: HTTP {status}")


class _TencentApi:
    provider = "tencent"
    channel: str
    events: tuple[str, ...]
    """The callback paths' last parts."""

    def __init__(
        self,
        settings: TencentSmsSettings | TencentVoiceSettings,
        *,
        service: str,
        version: str,
        default_url: str,
        client: httpx.AsyncClient | None,
        clock: Clock | None,
        public_url: str,
    ) -> None:
        self.settings = settings
        self.service, self.version = service, version
        self.client = client or make_client(settings.base_url or default_url, settings.timeout)
        self.clock = clock or SystemClock()
        self.public_url = public_url.rstrip("/")

    def callback_urls(self) -> dict[str, str]:
        """What to enter in Tencent's console for each callback (none without a token)."""
        token = self.settings.callback_token
        if token is None:
            return {}
        query = f"?token={token.get_secret_value()}"
        name = self.settings.label
        return {e: f"{self.public_url}{path(name, self.channel, e)}{query}" for e in self.events}

    def callback_routes(self, events: PhoneEvents) -> list[BaseRoute]:
        """The routes Tencent's callbacks arrive on, handing them to `events`."""
        s = self.settings
        return tencent_hooks.routes(s.label, self.channel, s.callback_token, events, self.clock)

    async def call(self, action: str, payload: Json) -> Json:
        """The ``Response`` object of a successful call."""
        what = f"tencent {action}"
        s = self.settings
        body = json.dumps(payload, ensure_ascii=False).encode()
        timestamp = int(self.clock.now().timestamp())
        host = self.client.base_url.netloc.decode("ascii")
        auth = tencent_sign.authorization(
            s.secret_id, s.secret_key.get_secret_value(), host, body, timestamp, self.service
        )
        headers = {
            "Authorization": auth,
            "Content-Type": tencent_sign.CONTENT_TYPE,
            "X-TC-Action": action,
            "X-TC-Version": self.version,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": s.region,
        }
        response = await post(self.client, what, "/", content=body, headers=headers)
        answer = json_body(response).get("Response")
        answer = answer if isinstance(answer, dict) else {}
        error = answer.get("Error")
        if isinstance(error, dict) or response.status_code >= 300 or not answer:
            error = error if isinstance(error, dict) else {}
            raise api_error(what, _text(error.get("Code")), _text(error.get("Message")), response)
        return answer

    def params(self, page: Page) -> list[str]:
        s = self.settings
        return ordered_params(page, s.template_params, s.max_param_length)

    async def aclose(self) -> None:
        await self.client.aclose()


class TencentSms(_TencentApi):
    channel = "sms"
    events = ("status", "reply")

    def __init__(
        self,
        settings: TencentSmsSettings,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        public_url: str = "",
    ) -> None:
        super().__init__(
            settings,
            service="sms",
            version="2021-01-11",
            default_url=SMS_URL,
            client=client,
            clock=clock,
            public_url=public_url,
        )
        self.sms = settings

    async def send(self, page: Page) -> Receipt:
        payload = {
            "PhoneNumberSet": [e164(page)],
            "SmsSdkAppId": self.sms.sdk_app_id,
            "SignName": self.sms.sign_name,
            "TemplateId": self.sms.template_id,
            "TemplateParamSet": self.params(page),
            "SessionContext": page.key,
        }
        answer = await self.call("SendSms", payload)
        statuses = answer.get("SendStatusSet")
        status = statuses[0] if isinstance(statuses, list) and statuses else {}
        status = status if isinstance(status, dict) else {}
        if status.get("Code") != "Ok":
            raise api_error(
                "tencent SendSms",
                _text(status.get("Code")) or "NoSendStatus",
                _text(status.get("Message")),
            )
        return Receipt(self.provider, _text(status.get("SerialNo")))


class TencentVoice(_TencentApi):
    channel = "voice"
    events = ("callback",)

    def __init__(
        self,
        settings: TencentVoiceSettings,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        public_url: str = "",
    ) -> None:
        super().__init__(
            settings,
            service="vms",
            version="2020-09-02",
            default_url=VOICE_URL,
            client=client,
            clock=clock,
            public_url=public_url,
        )
        self.voice = settings

    async def send(self, page: Page) -> Receipt:
        payload = {
            "TemplateId": self.voice.template_id,
            "TemplateParamSet": self.params(page),
            "CalledNumber": e164(page),
            "VoiceSdkAppid": self.voice.sdk_app_id,
            "PlayTimes": self.voice.play_times,
            "SessionContext": page.key,
        }
        answer = await self.call("SendTtsVoice", payload)
        status = answer.get("SendStatus")
        call_id = status.get("CallId") if isinstance(status, dict) else None
        return Receipt(self.provider, _text(call_id))


def _text(value: Any) -> str:
    return "" if value is None else str(value)
