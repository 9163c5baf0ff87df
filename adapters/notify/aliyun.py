"""Aliyun (阿里云): SMS through Dysmsapi ``SendSms`` and voice through Dyvmsapi
``SingleCallByTts``, both RPC style (version 2017-05-25), signed by `aliyun_sign`.

Parameters go in a form-encoded POST body (signed with method ``POST``), so no signature or
phone number ends up in a URL. ``OutId`` carries the page key. Numbers are sent as Aliyun wants
them (`values.aliyun_number`): mainland numbers without ``+86``, others as ``00`` + country
code + number as the SendSms reference has long described (``international_prefix: ""`` sends
country code + number, the form newer editions show). The answer's ``Code`` decides:

- ``OK`` → sent; the message id is ``BizId`` (SMS) or ``CallId`` (voice);
- ``isv.BUSINESS_LIMIT_CONTROL`` (per-number flow control), ``Throttling*``, ``isp.*`` (Aliyun's
  own failures), ``ServiceUnavailable``, ``InternalError``, ``SignatureNonceUsed`` →
  `RetryableDelivery`; flow control waits a minute unless ``Retry-After`` says otherwise;
- any other code (``isv.MOBILE_NUMBER_ILLEGAL``, ``isv.SMS_TEMPLATE_ILLEGAL``,
  ``InvalidAccessKeyId*``, ``SignatureDoesNotMatch``, ``isv.AMOUNT_NOT_ENOUGH``…) →
  `PermanentDelivery`;
- no readable code: HTTP 429/5xx are retryable, anything else permanent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from adapters.notify import aliyun_sign
from adapters.notify.http import Json, json_body, make_client, post, retry_after
from adapters.notify.settings import AliyunSmsSettings, AliyunVoiceSettings
from adapters.notify.values import aliyun_number, brief, named_params
from bot.clock import Clock, SystemClock
from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery
from bot.ports import Page, Receipt

SMS_URL = "https://dysmsapi.aliyuncs.com"
VOICE_URL = "https://dyvmsapi.aliyuncs.com"
VERSION = "2017-05-25"
FLOW_CONTROL_WAIT = 60.0
"""Seconds to wait after ``isv.BUSINESS_LIMIT_CONTROL`` (Aliyun allows about 1 SMS a minute
to one number by default)."""
RETRYABLE = ("Throttling", "isp.", "ServiceUnavailable", "InternalError", "SignatureNonceUsed")


def api_error(what: str, code: str, message: str, response: httpx.Response) -> DeliveryError:
    """The `DeliveryError` for an answer whose ``Code`` is not ``OK``."""
    reason = f"{what}: {code} {brief(message)}".rstrip()
    if code == "isv.BUSINESS_LIMIT_CONTROL":
        return RetryableDelivery(reason, retry_after(response) or FLOW_CONTROL_WAIT)
    if code.startswith(RETRYABLE):
        return RetryableDelivery(reason, retry_after(response))
    if not code and (response.status_code == 429 or response.status_code >= 500):
        return RetryableDelivery(f"{what}: HTTP {response.status_code}", retry_after(response))
    return PermanentDelivery(reason if code else f"{what}: HTTP {response.status_code}")


class _AliyunRpc:
    """One signed RPC call at a time on the notifier's client."""

    provider = "aliyun"

    def __init__(
        self,
        settings: AliyunSmsSettings | AliyunVoiceSettings,
        *,
        default_url: str,
        client: httpx.AsyncClient | None,
        clock: Clock | None,
        nonce: Callable[[], str] | None,
    ) -> None:
        self.settings = settings
        self.client = client or make_client(settings.base_url or default_url, settings.timeout)
        self.clock = clock or SystemClock()
        self.nonce = nonce or (lambda: uuid.uuid4().hex)

    async def call(self, action: str, params: dict[str, str]) -> Json:
        what = f"aliyun {action}"
        s = self.settings
        body = aliyun_sign.signed(
            {"Action": action, "Version": VERSION, "RegionId": s.region, **params},
            access_key_id=s.access_key_id,
            secret=s.access_key_secret.get_secret_value(),
            method="POST",
            when=self.clock.now(),
            nonce=self.nonce(),
        )
        response = await post(self.client, what, "/", data=body)
        data = json_body(response)
        code = str(data.get("Code") or "")
        if code != "OK" or response.status_code >= 300:
            raise api_error(what, code, str(data.get("Message") or ""), response)
        return data

    def params(self, page: Page) -> str:
        values = named_params(page, self.settings.template_params, self.settings.max_param_length)
        return json.dumps(values, ensure_ascii=False, separators=(",", ":"))

    async def aclose(self) -> None:
        await self.client.aclose()


class AliyunSms(_AliyunRpc):
    channel = "sms"

    def __init__(
        self,
        settings: AliyunSmsSettings,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        nonce: Callable[[], str] | None = None,
    ) -> None:
        super().__init__(settings, default_url=SMS_URL, client=client, clock=clock, nonce=nonce)
        self.sms = settings

    async def send(self, page: Page) -> Receipt:
        params = {
            "PhoneNumbers": aliyun_number(page, self.sms.international_prefix),
            "SignName": self.sms.sign_name,
            "TemplateCode": self.sms.template_code,
            "TemplateParam": self.params(page),
            "OutId": page.key,
        }
        data = await self.call("SendSms", params)
        return Receipt(self.provider, _text(data.get("BizId")))


class AliyunVoice(_AliyunRpc):
    channel = "voice"

    def __init__(
        self,
        settings: AliyunVoiceSettings,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        nonce: Callable[[], str] | None = None,
    ) -> None:
        super().__init__(settings, default_url=VOICE_URL, client=client, clock=clock, nonce=nonce)
        self.voice = settings

    async def send(self, page: Page) -> Receipt:
        params = {
            "CalledShowNumber": self.voice.called_show_number,
            "CalledNumber": aliyun_number(page, self.voice.international_prefix),
            "TtsCode": self.voice.tts_code,
            "TtsParam": self.params(page),
            "PlayTimes": str(self.voice.play_times),
            "OutId": page.key,
        }
        data = await self.call("SingleCallByTts", params)
        return Receipt(self.provider, _text(data.get("CallId")))


def _text(value: Any) -> str:
    return "" if value is None else str(value)
