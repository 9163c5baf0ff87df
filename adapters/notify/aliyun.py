"""Aliyun (阿里云): SMS through Dysmsapi ``SendSms`` and voice through Dyvmsapi
``SingleCallByTts`` (or ``IvrCall``, a menu taking keys 1 and 2, when ``ivr`` is set and the
number is a mainland one: IvrCall calls nowhere else), both RPC style (version 2017-05-25),
signed by `aliyun_sign`.

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

Delivery comes back two ways (`aliyun_query` maps Aliyun's words to Tocsin's): `statuses` asks
``QuerySendDetails`` / ``QueryCallDetailByCallId``, one query per send (Tocsin is a
`ReceiptPoller` for Aliyun); with ``callback_token`` set, `callback_routes` also takes Aliyun's
receipt pushes, SMS replies and keypresses (`aliyun_hooks`). Aliyun documents no way to carry a
reply back to an SMS answer, nor to speak Tocsin's answer in a call: an IvrCall plays the
template configured for the key pressed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import structlog
from starlette.routing import BaseRoute

from adapters.notify import aliyun_hooks, aliyun_query, aliyun_sign
from adapters.notify.http import Json, json_body, make_client, post, retry_after
from adapters.notify.settings import AliyunSmsSettings, AliyunVoiceSettings
from adapters.notify.values import aliyun_number, brief, e164, named_params
from bot.clock import Clock, SystemClock
from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery
from bot.paging.events import PhoneEvents
from bot.ports import DeliveryReport, Page, Receipt, Sent

log = structlog.get_logger(__name__)

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
    channel: str

    def __init__(
        self,
        settings: AliyunSmsSettings | AliyunVoiceSettings,
        *,
        default_url: str,
        client: httpx.AsyncClient | None,
        clock: Clock | None,
        nonce: Callable[[], str] | None,
        public_url: str,
    ) -> None:
        self.settings = settings
        self.client = client or make_client(settings.base_url or default_url, settings.timeout)
        self.clock = clock or SystemClock()
        self.nonce = nonce or (lambda: uuid.uuid4().hex)
        self.public_url = public_url.rstrip("/")
        """Tocsin's address as Aliyun reaches it: the push URLs given to Aliyun's console are
        ``<public_url>/api/v1/pagers/<name>/<channel>/<event>?token=<callback_token>``."""

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

    async def statuses(self, sends: Sequence[Sent]) -> list[DeliveryReport]:
        """Reports for the sends Aliyun has a final word on (one query each; sends still on
        their way are left out). A send Aliyun refuses to look up is left out and logged.
        Throttled part way: the reports so far (the rest are asked next time); at the first
        query: `RetryableDelivery`."""
        reports: list[DeliveryReport] = []
        for sent in sends:
            try:
                report = await self.status(sent)
            except RetryableDelivery:
                if not reports:
                    raise
                break
            except PermanentDelivery as exc:
                log.warning("aliyun status query refused", provider=self.label, reason=str(exc))
                continue
            if report is not None:
                reports.append(report)
        return reports

    async def status(self, sent: Sent) -> DeliveryReport | None:
        """One send's report (each channel asks its own query API)."""
        raise NotImplementedError

    def callback_routes(self, events: PhoneEvents) -> list[BaseRoute]:
        """Aliyun's receipt-push routes for this provider, when it has a ``callback_token``."""
        token = self.settings.callback_token
        if token is None:
            return []
        return aliyun_hooks.routes(
            self.label, self.channel, token.get_secret_value(), events, self.clock
        )

    @property
    def label(self) -> str:
        return self.settings.label

    def number(self, to: str) -> str:
        return aliyun_query.aliyun_form(to, self.settings.international_prefix)

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
        public_url: str = "",
    ) -> None:
        super().__init__(
            settings,
            default_url=SMS_URL,
            client=client,
            clock=clock,
            nonce=nonce,
            public_url=public_url,
        )
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

    async def status(self, sent: Sent) -> DeliveryReport | None:
        params = {
            "PhoneNumber": self.number(sent.to),
            "BizId": sent.message_id,
            "SendDate": aliyun_query.send_date(sent),
            "PageSize": "10",
            "CurrentPage": "1",
        }
        data = await self.call("QuerySendDetails", params)
        return aliyun_query.sms_report(self.label, sent, data, self.clock.now())


class AliyunVoice(_AliyunRpc):
    channel = "voice"

    def __init__(
        self,
        settings: AliyunVoiceSettings,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        nonce: Callable[[], str] | None = None,
        public_url: str = "",
    ) -> None:
        super().__init__(
            settings,
            default_url=VOICE_URL,
            client=client,
            clock=clock,
            nonce=nonce,
            public_url=public_url,
        )
        self.voice = settings

    def menu(self, to: str) -> bool:
        """Whether a call to `to` is an IvrCall menu (``ivr`` set; mainland numbers only)."""
        return self.voice.ivr is not None and to.startswith("+86")

    async def send(self, page: Page) -> Receipt:
        if self.menu(e164(page)):
            return await self.send_menu(page)
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

    async def send_menu(self, page: Page) -> Receipt:
        """IvrCall: the page's template, then keys 1 and 2 (its ``OutId`` takes at most 15
        bytes, so the page key is not sent; the ``CallId`` is what maps reports back)."""
        ivr = self.voice.ivr
        assert ivr is not None
        params = {
            "CalledShowNumber": self.voice.called_show_number,
            "CalledNumber": aliyun_number(page, self.voice.international_prefix),
            "StartCode": self.voice.tts_code,
            "StartTtsParams": self.params(page),
            "PlayTimes": str(self.voice.play_times),
            "Timeout": str(int(ivr.timeout.total_seconds() * 1000)),
        }
        for i, key in enumerate(sorted(ivr.keys), start=1):
            params[f"MenuKeyMap.{i}.Key"] = key
            params[f"MenuKeyMap.{i}.Code"] = ivr.keys[key]
        if ivr.bye_code:
            params["ByeCode"] = ivr.bye_code
        data = await self.call("IvrCall", params)
        return Receipt(self.provider, _text(data.get("CallId")))

    async def status(self, sent: Sent) -> DeliveryReport | None:
        product = aliyun_query.IVR if self.menu(sent.to) else aliyun_query.VOICE_NOTICE
        params = {
            "CallId": sent.message_id,
            "ProdId": product,
            "QueryDate": aliyun_query.query_date(sent),
        }
        data = await self.call("QueryCallDetailByCallId", params)
        return aliyun_query.call_report(self.label, sent, data, self.clock.now())


def _text(value: Any) -> str:
    return "" if value is None else str(value)
