"""A local fake of Aliyun's Dysmsapi and Dyvmsapi RPC endpoints on 127.0.0.1 (aiohttp).

It checks every request as Aliyun does — the common parameters, a fresh ``SignatureNonce``, the
AccessKeyId and the HMAC-SHA1 signature, recomputed here independently of the adapter's code —
then answers ``SendSms`` / ``SingleCallByTts`` / ``IvrCall`` with the recorded answers, or with
Aliyun's error codes: an unknown template, an illegal number, or whatever a test scripted with
`fail` (``Throttling.User``…).

Sends it accepted have an outcome (`set_outcome`: waiting until told), which
``QuerySendDetails`` and ``QueryCallDetailByCallId`` answer from, and which the push methods
send to Tocsin's routes as Aliyun's HTTP receipt pushes do (`push_to` says where):

    aliyun.push_to(app_or_url, token="…", name="aliyun")
    aliyun.set_outcome(receipt.message_id, "delivered")
    status, answer = await aliyun.push_report(receipt.message_id)
    await aliyun.push_up("+8613800138000", "1")
    await aliyun.push_voice_report(call_id, dtmf="1")
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from aiohttp import web
from notify_support import ALIYUN_KEY_ID, ALIYUN_SECRET, recorded

from bot.clock import SystemClock
from tests.fake_http import FakeHttpServer

UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
TEMPLATES = {
    "SendSms": ("TemplateCode", "SMS_123456"),
    "SingleCallByTts": ("TtsCode", "TTS_654321"),
    "IvrCall": ("StartCode", "TTS_654321"),
}
REQUIRED = {
    "SendSms": ("PhoneNumbers", "SignName", "TemplateCode"),
    "SingleCallByTts": ("CalledShowNumber", "CalledNumber", "TtsCode"),
    "IvrCall": ("CalledShowNumber", "CalledNumber", "StartCode", "MenuKeyMap.1.Key"),
    "QuerySendDetails": ("PhoneNumber", "SendDate", "PageSize", "CurrentPage"),
    "QueryCallDetailByCallId": ("CallId", "ProdId", "QueryDate"),
}
PRODUCTS = {"11000000300006": "SingleCallByTts", "11000000300005": "IvrCall"}
BEIJING = timezone(timedelta(hours=8))
SMS_OUTCOMES = {  # outcome → (SendStatus, ErrCode)
    "waiting": (1, ""),
    "delivered": (3, "DELIVERED"),
    "undelivered": (2, "MK:0001"),
    "failed": (2, "IC:0015"),
}
CALL_OUTCOMES = {  # outcome → (call status code, its description)
    "delivered": ("200000", "用户听完语音"),
    "busy": ("200002", "用户占线"),
    "no_answer": ("200003", "用户收到呼叫但未接听"),
    "failed": ("200010", "关机"),
}


def encode(text: str) -> str:
    """RFC 3986 over UTF-8, byte by byte, as the signature docs describe it."""
    return "".join(
        chr(byte) if byte in UNRESERVED else f"%{byte:02X}" for byte in text.encode("utf-8")
    )


def expected_signature(method: str, params: dict[str, str], secret: str) -> str:
    query = "&".join(f"{encode(k)}={encode(params[k])}" for k in sorted(params))
    to_sign = f"{method}&{encode('/')}&{encode(query)}"
    mac = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class Failure:
    code: str
    status: int = 200
    retry_after: float | None = None
    after: int = 0
    """Calls of the action that still succeed before this failure."""


@dataclass
class FakeAliyun(FakeHttpServer):
    calls: list[dict[str, str]] = field(default_factory=list)
    """Every request's parameters, signed or not."""
    sent: list[dict[str, str]] = field(default_factory=list)
    """The parameters of accepted requests."""
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    nonces: set[str] = field(default_factory=set)
    sends: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Accepted sends by BizId / CallId: action, number (Aliyun's form), out_id, outcome,
    err_code, at (when it was sent)."""
    pushes: list[tuple[str, int, Any]] = field(default_factory=list)
    """Every push made: (path, HTTP status, answer)."""
    now: Callable[[], datetime] = field(default_factory=lambda: SystemClock().now)
    """The fake's clock (give it the test's ``FakeClock().now``): when sends were made, which
    ``SendDate`` finds them, the times in pushes."""
    target: str = ""
    token: str = ""
    name: str = "aliyun"
    app: Any = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1234567890))

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._rpc)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(
        self,
        action: str,
        code: str,
        *,
        status: int = 200,
        retry_after: float | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """The next `times` calls of `action` (after `after` that succeed) fail with `code`."""
        failures = [Failure(code, status, retry_after) for _ in range(times)]
        failures[0].after = after
        self.failures[action].extend(failures)

    def actions(self, action: str) -> list[dict[str, str]]:
        return [params for params in self.sent if params["Action"] == action]

    def set_outcome(self, message_id: str, outcome: str, *, err_code: str | None = None) -> None:
        """What became of an accepted send: ``waiting``, ``delivered``, ``undelivered`` or
        ``failed`` (SMS); ``waiting``, ``delivered``, ``busy``, ``no_answer`` or ``failed``
        (calls). `err_code` replaces the carrier's code (SMS) or the call status code."""
        send = self.sends[message_id]
        known = SMS_OUTCOMES if send["action"] == "SendSms" else {**CALL_OUTCOMES, "waiting": 0}
        if outcome not in known:
            raise ValueError(f"{outcome!r} is not one of {sorted(known)}")
        send.update(outcome=outcome, err_code=err_code)

    def push_to(self, target: Any, *, token: str, name: str = "aliyun") -> None:
        """Where pushes go: Tocsin's base URL (``http://127.0.0.1:port``) or its ASGI app, the
        provider's ``callback_token`` and its name."""
        if isinstance(target, str):
            self.target, self.app = target.rstrip("/"), None
        else:
            self.target, self.app = "http://tocsin.test", target
        self.token, self.name = token, name

    async def push_report(self, biz_id: str, *, token: str | None = None) -> tuple[int, Any]:
        """Push the SmsReport of an SMS (its outcome; ``delivered`` while still waiting)."""
        send = self.sends[biz_id]
        status, code = SMS_OUTCOMES[_final(send["outcome"], "delivered")]
        [item] = recorded("aliyun_sms_report")["body"]
        item.update(
            phone_number=send["number"],
            send_time=_beijing(send["at"]),
            report_time=_beijing(self.now()),
            success=status == 3,
            err_code=send["err_code"] or code,
            err_msg="用户接收成功" if status == 3 else "失败",
            biz_id=biz_id,
            out_id=send["out_id"],
        )
        return await self.push("sms", "report", [item], token=token)

    async def push_up(
        self, phone: str, content: str, *, token: str | None = None
    ) -> tuple[int, Any]:
        """Push an SmsUp: `phone` (E.164) replied `content` (sent in Aliyun's form: mainland
        numbers without ``+86``)."""
        [item] = recorded("aliyun_sms_up")["body"]
        number = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
        item.update(
            phone_number=number,
            content=content,
            send_time=_beijing(self.now()),
            sequence_id=next(self._sequence),
        )
        return await self.push("sms", "up", [item], token=token)

    async def push_voice_report(
        self, call_id: str, dtmf: str | None = None, *, token: str | None = None
    ) -> tuple[int, Any]:
        """Push the VoiceReport of a call (its outcome; ``delivered`` while still waiting),
        with the keys pressed when `dtmf` is given."""
        send = self.sends[call_id]
        code, words = CALL_OUTCOMES[_final(send["outcome"], "delivered")]
        [item] = recorded("aliyun_voice_report")["body"]
        now = _beijing(self.now())
        item.update(
            call_id=call_id,
            originate_time=_beijing(send["at"]),
            start_time=now,
            end_time=now,
            callee=send["number"],
            status_code=send["err_code"] or code,
            status_msg=words,
            out_id=send["out_id"],
            dtmf=dtmf or "",
        )
        return await self.push("voice", "report", [item], token=token)

    async def push(
        self, channel: str, event: str, body: Any, *, token: str | None = None
    ) -> tuple[int, Any]:
        """POST `body` as JSON to ``/api/v1/pagers/<name>/<channel>/<event>?token=…`` (the
        configured token unless `token` is given); the answer's status and JSON (or text)."""
        if not self.target:
            raise RuntimeError("call push_to(...) first")
        url = f"{self.target}/api/v1/pagers/{self.name}/{channel}/{event}"
        transport = httpx.ASGITransport(app=self.app) if self.app is not None else None
        async with httpx.AsyncClient(transport=transport, timeout=10) as client:
            response = await client.post(
                url,
                params={"token": self.token if token is None else token},
                content=json.dumps(body, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json"},
            )
        try:
            answer: Any = response.json()
        except ValueError:
            answer = response.text
        self.pushes.append((f"{channel}/{event}", response.status_code, answer))
        return response.status_code, answer

    async def _rpc(self, request: web.Request) -> web.Response:
        params = {k: str(v) for k, v in (await request.post()).items()}
        self.calls.append(params)
        action = params.get("Action", "")
        if action in self.held:
            await self.held[action].wait()
        refused = self._verify(request.method, params)
        if refused is not None:
            return refused
        if self.failures[action] and self.failures[action][0].after > 0:
            self.failures[action][0].after -= 1
        elif self.failures[action]:
            failure = self.failures[action].pop(0)
            headers = {"Retry-After": str(int(failure.retry_after))} if failure.retry_after else {}
            if failure.status >= 500 and not failure.code:
                return web.Response(
                    status=failure.status, text="<html>bad gateway</html>", headers=headers
                )
            return _error(failure.code, "scripted failure", failure.status, headers)
        if action not in REQUIRED:
            return _error("InvalidAction.NotFound", f"Specified api is not found: {action}", 404)
        missing = [name for name in REQUIRED[action] if not params.get(name)]
        if missing:
            return _error("MissingParameter", f"{missing[0]} is mandatory for this action.", 400)
        if action.startswith("Query"):
            self.sent.append(params)
        if action == "QuerySendDetails":
            return self._send_details(params)
        if action == "QueryCallDetailByCallId":
            return self._call_detail(params)
        return self._answer(action, params)

    def _send_details(self, params: dict[str, str]) -> web.Response:
        page_size = params["PageSize"]
        if not re.fullmatch(r"\d{8}", params["SendDate"]):
            return _error("isv.INVALID_PARAMETERS", "SendDate must be yyyyMMdd", 200)
        if not page_size.isdigit() or not 1 <= int(page_size) <= 50:
            return _error("isv.INVALID_PARAMETERS", "PageSize must be 1 to 50", 200)
        rows = []
        for biz_id, send in self.sends.items():
            if send["action"] != "SendSms" or send["number"] != params["PhoneNumber"]:
                continue
            if params.get("BizId") and biz_id != params["BizId"]:
                continue
            if _beijing(send["at"])[:10].replace("-", "") != params["SendDate"]:
                continue
            status, code = SMS_OUTCOMES[send["outcome"]]
            rows.append(
                {
                    "PhoneNum": send["number"],
                    "SendStatus": status,
                    "ErrCode": send["err_code"] or code,
                    "TemplateCode": "SMS_123456",
                    "Content": "【托克辛】…",
                    "SendDate": _beijing(send["at"]),
                    "ReceiveDate": ""
                    if status == 1
                    else _beijing(send["at"] + timedelta(seconds=3)),
                    "OutId": send["out_id"],
                }
            )
        answer = recorded("aliyun_query_send_details_ok")
        answer.update(TotalCount=str(len(rows)), SmsSendDetailDTOs={"SmsSendDetailDTO": rows})
        return web.json_response(answer)

    def _call_detail(self, params: dict[str, str]) -> web.Response:
        if params["ProdId"] not in PRODUCTS or not params["QueryDate"].isdigit():
            return _error("isv.INVALID_PARAMETERS", "ProdId or QueryDate is not valid", 200)
        answer = recorded("aliyun_query_call_detail_ok")
        send = self.sends.get(params["CallId"])
        if send is None or send["action"] != PRODUCTS[params["ProdId"]]:
            answer["Data"] = None
            return web.json_response(answer)
        if send["outcome"] == "waiting":
            answer["Data"] = None
            return web.json_response(answer)
        data = json.loads(answer["Data"])
        code, words = CALL_OUTCOMES[send["outcome"]]
        data.update(
            callId=params["CallId"],
            state=send["err_code"] or code,
            stateDesc=words,
            callee=send["number"],
            startDate=_beijing(send["at"]),
            endDate=_beijing(send["at"] + timedelta(seconds=20)),
            duration=18 if code == "200000" else 0,
        )
        answer["Data"] = json.dumps(data, ensure_ascii=False)
        return web.json_response(answer)

    def _verify(self, method: str, params: dict[str, str]) -> web.Response | None:
        for name, value in (("SignatureMethod", "HMAC-SHA1"), ("SignatureVersion", "1.0")):
            if params.get(name) != value:
                return _error(f"InvalidParameter.{name}", f"{name} must be {value}", 400)
        if params.get("Version") != "2017-05-25" or params.get("Format") != "JSON":
            return _error("InvalidVersion", "Specified parameter Version is not valid.", 400)
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", params.get("Timestamp", "")):
            return _error("InvalidTimeStamp.Format", "Specified time stamp is not valid.", 400)
        if params.get("AccessKeyId") != ALIYUN_KEY_ID:
            return _error("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        given = params.pop("Signature", "")
        wanted = expected_signature(method, params, ALIYUN_SECRET)
        params["Signature"] = given
        if not hmac.compare_digest(given, wanted):
            message = (
                "Specified signature is not matched with our calculation. "
                f"server string to sign is:{method}&%2F&..."
            )
            return _error("SignatureDoesNotMatch", message, 400)
        nonce = params.get("SignatureNonce", "")
        if not nonce or nonce in self.nonces:
            return _error("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
        self.nonces.add(nonce)
        return None

    def _answer(self, action: str, params: dict[str, str]) -> web.Response:
        code_param, known = TEMPLATES[action]
        if params[code_param] != known:
            name = "SMS" if action == "SendSms" else "TTS"
            return _error(f"isv.{name}_TEMPLATE_ILLEGAL", "模板不合法(不存在或被拉黑)", 200)
        number = params.get("PhoneNumbers") or params.get("CalledNumber", "")
        if not re.fullmatch(r"1\d{10}|(00)?[1-9]\d{6,16}", number):
            return _error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号", 200)
        for name in ("TemplateParam", "TtsParam"):
            if name in params:
                try:
                    json.loads(params[name])
                except ValueError:
                    return _error("isv.INVALID_JSON_PARAM", "JSON参数不合法", 200)
        self.sent.append(params)
        if action == "SendSms":
            answer = recorded("aliyun_send_sms_ok")
            message_id = answer["BizId"] = f"90061974693649{next(self._ids):05d}^0"
        else:  # IvrCall answers as SingleCallByTts does
            answer = recorded("aliyun_single_call_by_tts_ok")
            message_id = answer["CallId"] = f"116012354148^1028137{next(self._ids):04d}"
        self.sends[message_id] = {
            "action": action,
            "number": number,
            "out_id": params.get("OutId", ""),
            "outcome": "waiting",
            "err_code": None,
            "at": self.now(),
        }
        return web.json_response(answer)


def _beijing(when: datetime) -> str:
    return when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _final(outcome: str, otherwise: str) -> str:
    return otherwise if outcome == "waiting" else outcome


def _error(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> web.Response:
    answer = recorded("aliyun_error")
    answer.update(Code=code, Message=message)
    return web.json_response(answer, status=status, headers=headers)
