"""A local fake of Tencent Cloud's SMS (``SendSms`` 2021-01-11) and VMS (``SendTtsVoice``
2020-09-02) APIs on 127.0.0.1 (aiohttp).

It checks each request as Tencent Cloud does — the X-TC headers, the credential scope (date,
service), the SecretId and the TC3-HMAC-SHA256 signature, recomputed here from the received
Host, Content-Type and body — and answers with the recorded answers or API 3.0 errors (HTTP 200,
``Response.Error``). Per-number SMS failures come back in ``SendStatusSet``, as in the real API.

It also calls back as Tencent does, once told where (`callbacks_to`): `report` (an SMS status
push), `reply` (an SMS reply), `call_status`, `keypress` and `call_failure` (voice pushes) POST
the documented payloads (``data/tencent_*.json``) for the serials and call ids it handed out,
with the callback token in the URL (or a given wrong one), and return the app's answer.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiohttp import web
from notify_support import TENCENT_ID, TENCENT_KEY, recorded

from bot.clock import Clock, SystemClock
from tests.fake_http import FakeHttpServer

ACTIONS = {"SendSms": ("sms", "2021-01-11"), "SendTtsVoice": ("vms", "2020-09-02")}
AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>[\d-]+)/(?P<service>\w+)/tc3_request, "
    r"SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)
INVALID_NUMBERS = {"+8613000000000"}
"""Numbers the fake treats as wrong (InvalidParameterValue.IncorrectPhoneNumber)."""
COUNTRY_CODES = ("852", "853", "886", "86", "1", "44", "65", "81", "82", "61", "49", "33")
BEIJING = ZoneInfo("Asia/Shanghai")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def expected_signature(
    headers: dict[str, str], signed: str, body: bytes, timestamp: str, date: str, service: str
) -> str:
    names = signed.split(";")
    canonical_headers = "".join(f"{n}:{headers.get(n, '').strip().lower()}\n" for n in names)
    request = "\n".join(
        ["POST", "/", "", canonical_headers, signed, hashlib.sha256(body).hexdigest()]
    )
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", timestamp, scope, hashlib.sha256(request.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(("TC3" + TENCENT_KEY).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class Failure:
    code: str
    status: int = 200
    retry_after: float | None = None
    per_number: bool = False


@dataclass
class FakeTencent(FakeHttpServer):
    calls: list[dict[str, Any]] = field(default_factory=list)
    sent: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    """Accepted requests: action, JSON body, headers."""
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    numbers: dict[str, str] = field(default_factory=dict)
    """Each SMS SerialNo and call CallId handed out, with the number (E.164) it went to."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _app: httpx.AsyncClient | None = None
    _hooks: dict[str, tuple[str, str]] = field(default_factory=dict)
    _clock: Clock = field(default_factory=SystemClock)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._api)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(
        self,
        action: str,
        code: str = "",
        *,
        status: int = 200,
        retry_after: float | None = None,
        per_number: bool = False,
        times: int = 1,
    ) -> None:
        """Script failures: an API error `code`, a bare HTTP `status`, or (SendSms,
        `per_number`) a failed entry in ``SendStatusSet``."""
        self.failures[action].extend(
            Failure(code, status, retry_after, per_number) for _ in range(times)
        )

    def bodies(self, action: str) -> list[dict[str, Any]]:
        return [body for name, body, _ in self.sent if name == action]

    def callbacks_to(
        self,
        app: httpx.AsyncClient,
        token: str,
        *,
        name: str = "tencent",
        channel: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        """Call back the app behind `app` (an httpx client with its base URL, over a socket or
        an ASGI transport) at ``/api/v1/pagers/<name>/<channel>/…?token=<token>``, for both
        channels unless `channel` says which; times come from `clock`."""
        self._app = app
        for each in (channel,) if channel else ("sms", "voice"):
            self._hooks[each] = (name, token)
        if clock is not None:
            self._clock = clock

    async def report(
        self,
        serial: str,
        success: bool = True,
        *,
        errmsg: str | None = None,
        at: datetime | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        """Push an SMS status report for `serial` (``FAIL`` with `errmsg`, e.g. MK:0001)."""
        nationcode, mobile = split(self._number(serial))
        item = recorded("tencent_sms_status")["body"][0]
        when = (at or self._clock.now()).astimezone(BEIJING)
        item.update(
            sid=serial,
            nationcode=nationcode,
            mobile=mobile,
            user_receive_time=when.strftime("%Y-%m-%d %H:%M:%S"),
            report_status="SUCCESS" if success else "FAIL",
            errmsg=errmsg or ("DELIVRD" if success else "MK:0001"),
            description="用户短信送达成功" if success else "用户短信未送达",
        )
        return await self.push("sms", "status", [item], token)

    async def reply(
        self, number: str, text: str, *, at: datetime | None = None, token: str | None = None
    ) -> httpx.Response:
        """Push an SMS reply from `number` (E.164, or a mainland mobile without ``+86``)."""
        nationcode, mobile = split(number)
        body = recorded("tencent_sms_reply")["body"]
        when = at or self._clock.now()
        body.update(mobile=mobile, nationcode=nationcode, text=text, time=int(when.timestamp()))
        return await self.push("sms", "reply", body, token)

    async def call_status(
        self, call_id: str, result: str = "0", *, token: str | None = None
    ) -> httpx.Response:
        """Push a call's outcome: ``0`` answered, ``1`` not answered, ``2`` call failed."""
        nationcode, mobile = split(self._number(call_id))
        item = recorded("tencent_voice_prompt")["body"]["voiceprompt_callback"]
        end = int(self._clock.now().timestamp())
        item.update(
            callid=call_id,
            mobile=mobile,
            nationcode=nationcode,
            result=result,
            start_calltime=str(end - 25),
            accept_time=str(end - 10) if result == "0" else "0",
            end_calltime=str(end),
        )
        return await self.push("voice", "callback", {"voiceprompt_callback": item}, token)

    async def keypress(
        self, call_id: str, key: str = "1", *, token: str | None = None
    ) -> httpx.Response:
        """Push a key pressed during the call `call_id`."""
        nationcode, mobile = split(self._number(call_id))
        item = recorded("tencent_voice_key")["body"]["voicekey_callback"]
        item.update(callid=call_id, mobile=mobile, nationcode=nationcode, keypress=key)
        return await self.push("voice", "callback", {"voicekey_callback": item}, token)

    async def call_failure(
        self, call_id: str, code: int = 5, reason: str = "无人接听", *, token: str | None = None
    ) -> httpx.Response:
        """Push why the call `call_id` failed (``failure_code`` 2 通话中, 5 无人接听, 8 空号…)."""
        nationcode, mobile = split(self._number(call_id))
        item = recorded("tencent_voice_failure")["body"]["voice_failure_callback"]
        item.update(
            callid=call_id,
            mobile=mobile,
            nationcode=nationcode,
            failure_code=code,
            failure_reason=reason,
        )
        return await self.push("voice", "callback", {"voice_failure_callback": item}, token)

    async def push(
        self, channel: str, event: str, body: Any, token: str | None = None
    ) -> httpx.Response:
        """POST `body` as JSON to the app's callback route, as Tencent does (bytes: as is)."""
        if self._app is None or channel not in self._hooks:
            raise AssertionError("call callbacks_to(app, token) first")
        name, configured = self._hooks[channel]
        url = f"/api/v1/pagers/{name}/{channel}/{event}"
        content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        params = {"token": configured if token is None else token}
        return await self._app.post(url, params=params, content=content, headers=headers)

    def _number(self, message_id: str) -> str:
        if message_id not in self.numbers:
            raise AssertionError(f"the fake handed out no serial or call id {message_id!r}")
        return self.numbers[message_id]

    async def _api(self, request: web.Request) -> web.Response:
        raw = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        action = headers.get("x-tc-action", "")
        self.calls.append({"action": action, "headers": headers})
        if action in self.held:
            await self.held[action].wait()
        refused = self._verify(action, headers, raw)
        if refused is not None:
            return refused
        body = json.loads(raw)
        failure = self.failures[action].pop(0) if self.failures[action] else None
        if failure is not None and not failure.per_number:
            extra = {"Retry-After": str(int(failure.retry_after))} if failure.retry_after else {}
            if not failure.code:
                return web.Response(status=failure.status, text="upstream trouble", headers=extra)
            return _error(failure.code, "scripted failure", failure.status, extra)
        if action == "SendSms":
            return self._sms(body, headers, failure)
        return self._voice(body, headers)

    def _verify(self, action: str, headers: dict[str, str], raw: bytes) -> web.Response | None:
        if action not in ACTIONS:
            return _error("InvalidAction", f"unknown action {action!r}")
        service, version = ACTIONS[action]
        if headers.get("x-tc-version") != version:
            return _error("NoSuchVersion", f"version {headers.get('x-tc-version')!r} not found")
        if not headers.get("x-tc-region"):
            return _error("MissingParameter", "X-TC-Region is required")
        if headers.get("content-type") != "application/json; charset=utf-8":
            return _error("InvalidParameter", "content-type must be application/json")
        timestamp = headers.get("x-tc-timestamp", "")
        match = AUTH.match(headers.get("authorization", ""))
        if match is None or not timestamp.isdigit():
            return _error("AuthFailure.InvalidAuthorization", "Authorization is malformed")
        if match["id"] != TENCENT_ID:
            return _error("AuthFailure.SecretIdNotFound", "The SecretId is not found")
        date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
        if match["date"] != date or match["service"] != service:
            return _error("AuthFailure.InvalidAuthorization", "Credential scope does not match")
        if not {"content-type", "host"} <= set(match["headers"].split(";")):
            return _error("AuthFailure.InvalidAuthorization", "content-type and host are signed")
        wanted = expected_signature(headers, match["headers"], raw, timestamp, date, service)
        if not hmac.compare_digest(wanted, match["signature"]):
            return _error(
                "AuthFailure.SignatureFailure", "The provided credentials could not be validated."
            )
        return None

    def _sms(
        self, body: dict[str, Any], headers: dict[str, str], failure: Failure | None
    ) -> web.Response:
        for name in ("PhoneNumberSet", "SmsSdkAppId", "TemplateId", "TemplateParamSet"):
            if name not in body:
                return _error("MissingParameter", f"{name} is required")
        number = body["PhoneNumberSet"][0]
        answer = recorded("tencent_send_sms_ok")
        status = answer["Response"]["SendStatusSet"][0]
        status.update(PhoneNumber=number, SessionContext=body.get("SessionContext", ""))
        status["SerialNo"] = f"5000:10457106691570536578{next(self._ids):05d}"
        if failure is not None:
            status.update(Code=failure.code, Message="scripted failure", Fee=0)
        elif not re.fullmatch(r"\+[1-9]\d{6,14}", number) or number in INVALID_NUMBERS:
            status.update(
                Code="InvalidParameterValue.IncorrectPhoneNumber", Message="手机号格式错误", Fee=0
            )
        else:
            self.sent.append(("SendSms", body, headers))
            self.numbers[status["SerialNo"]] = number
        return web.json_response(answer)

    def _voice(self, body: dict[str, Any], headers: dict[str, str]) -> web.Response:
        for name in ("TemplateId", "CalledNumber", "VoiceSdkAppid"):
            if name not in body:
                return _error("MissingParameter", f"{name} is required")
        if body["CalledNumber"] in INVALID_NUMBERS:
            return _error("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误")
        self.sent.append(("SendTtsVoice", body, headers))
        answer = recorded("tencent_send_tts_voice_ok")
        call_id = f"8b5bc5b7-d1d0-4a1f-9d7a-{next(self._ids):012d}"
        answer["Response"]["SendStatus"].update(
            CallId=call_id, SessionContext=body.get("SessionContext", "")
        )
        self.numbers[call_id] = body["CalledNumber"]
        return web.json_response(answer)


def split(number: str) -> tuple[str, str]:
    """An E.164 number as Tencent's callbacks give it: (nationcode, mobile); a number without
    ``+`` is a mainland mobile."""
    if not number.startswith("+"):
        return "86", number
    digits = number[1:]
    code = next((c for c in COUNTRY_CODES if digits.startswith(c)), digits[:2])
    return code, digits[len(code) :]


def _error(
    code: str, message: str, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    answer = recorded("tencent_error")
    answer["Response"]["Error"].update(Code=code, Message=message)
    return web.json_response(answer, status=status, headers=headers)
