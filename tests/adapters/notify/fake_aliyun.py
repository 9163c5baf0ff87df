"""A local fake of Aliyun's Dysmsapi and Dyvmsapi RPC endpoints on 127.0.0.1 (aiohttp).

It checks every request as Aliyun does — the common parameters, a fresh ``SignatureNonce``, the
AccessKeyId and the HMAC-SHA1 signature, recomputed here independently of the adapter's code —
then answers ``SendSms`` / ``SingleCallByTts`` with the recorded answers, or with Aliyun's error
codes: an unknown template, an illegal number, or whatever a test scripted with `fail`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field

from aiohttp import web
from notify_support import ALIYUN_KEY_ID, ALIYUN_SECRET, recorded

from tests.fake_http import FakeHttpServer

UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
TEMPLATES = {
    "SendSms": ("TemplateCode", "SMS_123456"),
    "SingleCallByTts": ("TtsCode", "TTS_654321"),
}
REQUIRED = {
    "SendSms": ("PhoneNumbers", "SignName", "TemplateCode"),
    "SingleCallByTts": ("CalledShowNumber", "CalledNumber", "TtsCode"),
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


@dataclass
class FakeAliyun(FakeHttpServer):
    calls: list[dict[str, str]] = field(default_factory=list)
    """Every request's parameters, signed or not."""
    sent: list[dict[str, str]] = field(default_factory=list)
    """The parameters of accepted requests."""
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    nonces: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

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
    ) -> None:
        self.failures[action].extend(Failure(code, status, retry_after) for _ in range(times))

    def actions(self, action: str) -> list[dict[str, str]]:
        return [params for params in self.sent if params["Action"] == action]

    async def _rpc(self, request: web.Request) -> web.Response:
        params = {k: str(v) for k, v in (await request.post()).items()}
        self.calls.append(params)
        action = params.get("Action", "")
        if action in self.held:
            await self.held[action].wait()
        refused = self._verify(request.method, params)
        if refused is not None:
            return refused
        if self.failures[action]:
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
        return self._answer(action, params)

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
            answer["BizId"] = f"90061974693649{next(self._ids):05d}^0"
        else:
            answer = recorded("aliyun_single_call_by_tts_ok")
            answer["CallId"] = f"116012354148^1028137{next(self._ids):04d}"
        return web.json_response(answer)


def _error(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> web.Response:
    answer = recorded("aliyun_error")
    answer.update(Code=code, Message=message)
    return web.json_response(answer, status=status, headers=headers)
