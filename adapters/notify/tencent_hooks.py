"""Tencent Cloud's callbacks: SMS delivery reports, SMS replies, and a call's outcome and keys.

What Tencent documents (SMS: 短信 > 回调配置 — "短信下发状态通知", "短信回复"; voice messages:
语音消息 > 回执 API 文档 — "语音通知状态通知", "语音通知按键通知", "语音送达失败原因通知"):

- the callback URLs are set per application in the console, not per request; Tencent POSTs JSON
  and expects ``{"result": 0, "errmsg": "OK"}``, retrying a failed push twice;
- SMS status: a JSON *array* (up to 100 reports) of ``{user_receive_time ("2015-10-17
  08:03:04", Beijing time), nationcode, mobile, report_status (SUCCESS | FAIL), errmsg
  (DELIVRD, or a receipt error code such as MK:0001), description, sid (= SendSms's
  SerialNo), ext?}``;
- SMS reply: one object ``{extend, mobile, nationcode, sign, text, time (Unix seconds)}`` —
  no message id, so one is made from the number, the time and the text (a retried push gets
  the same id, so the core can tell it from a new reply);
- voice: one URL for every kind, an object with one key: ``voiceprompt_callback`` (``result``
  "0" answered, "1" not answered, "2" call failed; times as Unix seconds in strings),
  ``voicekey_callback`` (``keypress``, ``callid`` = SendTtsVoice's CallId) and
  ``voice_failure_callback`` (``failure_code``: 2 通话中 and 10 用户正忙 are busy, 5 无人接听
  and 20 无应答 are no answer, the rest failed). ``voicecode_callback`` (voice codes) is not
  ours and is acknowledged unread.

Tencent documents no signature on any of these (only a list of its callback IPs to allow), so
each route takes the notifier's ``callback_token`` in the URL, ``…?token=<callback_token>``,
compared in constant time before the body is read; without a token there are no routes.

Nothing can be said back: Tencent only sends approved templates and a call plays its template,
so an `Answer` is logged, never sent. SendTtsVoice has no parameter for taking keys; a key
pressed during a voice notification is still pushed as ``voicekey_callback`` (the template's
wording has to invite it), and it is handed on like an SMS reply.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import structlog
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.notify.callbacks import path
from bot.clock import Clock
from bot.errors import DatabaseUnavailable, InputError
from bot.paging.events import PhoneEvents
from bot.ports import DeliveryReport, DeliveryStatus, PhoneReply
from bot.web.body import read_body

log = structlog.get_logger(__name__)

MAX_BODY = 64 * 1024
BEIJING = ZoneInfo("Asia/Shanghai")
SMS_STATUS: dict[str, DeliveryStatus] = {"SUCCESS": "delivered", "FAIL": "undelivered"}
CALL_RESULT: dict[str, DeliveryStatus] = {"0": "delivered", "1": "no_answer", "2": "failed"}
FAILURE_CODE: dict[str, DeliveryStatus] = {
    "2": "busy",
    "10": "busy",
    "5": "no_answer",
    "20": "no_answer",
}
VOICE_KINDS = ("voiceprompt_callback", "voicekey_callback", "voice_failure_callback")
OK = {"result": 0, "errmsg": "OK"}
RETRY_AFTER = "30"


class Malformed(InputError):
    """A callback body that is not what Tencent documents (400)."""


class Forbidden(InputError):
    """A callback without the configured token (403): not from Tencent, or a stale URL."""

    status_code = 403


Event = DeliveryReport | PhoneReply


def sms_reports(provider: str, payload: Any) -> list[DeliveryReport]:
    """The reports in an SMS status push (a JSON array)."""
    if not isinstance(payload, list):
        raise Malformed("an SMS status push is a JSON array of reports")
    reports = []
    for i, item in enumerate(payload):
        item = _object(item, f"[{i}]")
        word = _field(item, "report_status", f"[{i}]")
        if word not in SMS_STATUS:
            raise Malformed(f"[{i}].report_status: {word!r} is neither SUCCESS nor FAIL")
        reports.append(
            DeliveryReport(
                provider=provider,
                message_id=_field(item, "sid", f"[{i}]"),
                status=SMS_STATUS[word],
                at=_beijing(_field(item, "user_receive_time", f"[{i}]"), f"[{i}]"),
                detail=_text(item.get("errmsg")),
            )
        )
    return reports


def sms_reply(provider: str, payload: Any) -> PhoneReply:
    """The reply in an SMS reply push (one JSON object)."""
    item = _object(payload, "")
    number = _number(item, "")
    sent = _field(item, "time", "")
    text = _text(item.get("text"))
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return PhoneReply(
        provider=provider,
        channel="sms",
        number=number,
        text=text,
        message_id=f"{number}:{sent}:{digest}",
        received_at=_unix(sent, "time"),
    )


def voice_event(provider: str, payload: Any, now: datetime) -> Event | None:
    """What a voice push says: a call's outcome (a report), a key pressed (a reply), or None
    for a kind that is not ours."""
    body = _object(payload, "")
    kind = next((k for k in VOICE_KINDS if k in body), None)
    if kind is None:
        if any(str(k).endswith("_callback") for k in body):
            return None
        raise Malformed(f"expected one of {', '.join(VOICE_KINDS)}")
    item = _object(body[kind], kind)
    call_id = _field(item, "callid", kind)
    if kind == "voicekey_callback":
        return PhoneReply(
            provider=provider,
            channel="voice",
            number=_number(item, kind),
            text=_field(item, "keypress", kind),
            message_id=call_id,
            received_at=now,
        )
    if kind == "voiceprompt_callback":
        result = _field(item, "result", kind)
        return DeliveryReport(
            provider=provider,
            message_id=call_id,
            status=CALL_RESULT.get(result, "failed"),
            at=_call_time(item, now),
            detail=f"result {result}",
        )
    code = _field(item, "failure_code", kind)
    return DeliveryReport(
        provider=provider,
        message_id=call_id,
        status=FAILURE_CODE.get(code, "failed"),
        at=now,
        detail=f"{code} {_text(item.get('failure_reason'))}".strip(),
    )


Handle = Callable[[Any, datetime], Awaitable[None]]


def routes(
    name: str, channel: str, token: SecretStr | None, events: PhoneEvents, clock: Clock
) -> list[BaseRoute]:
    """The channel's callback routes (none without a token)."""
    if token is None:
        return []

    async def reports(payload: Any, now: datetime) -> None:
        await events.receipts(sms_reports(name, payload))

    async def replies(payload: Any, now: datetime) -> None:
        await _reply(events, sms_reply(name, payload))

    async def calls(payload: Any, now: datetime) -> None:
        event = voice_event(name, payload, now)
        if isinstance(event, DeliveryReport):
            await events.receipts([event])
        elif isinstance(event, PhoneReply):
            await _reply(events, event)

    handlers = {"status": reports, "reply": replies} if channel == "sms" else {"callback": calls}
    return [
        Route(path(name, channel, event), _endpoint(handle, token, clock), methods=["POST"])
        for event, handle in handlers.items()
    ]


def _endpoint(handle: Handle, token: SecretStr, clock: Clock) -> Callable[..., Any]:
    expected = token.get_secret_value().encode()

    async def endpoint(request: Request) -> Response:
        try:
            given = request.query_params.get("token", "").encode()
            if not hmac.compare_digest(given, expected):
                raise Forbidden("missing or wrong token")
            raw = await read_body(request, MAX_BODY)
            try:
                payload = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise Malformed("the body is not JSON") from None
            await handle(payload, clock.now())
        except InputError as exc:
            log.warning("tencent callback refused", path=request.url.path, reason=str(exc))
            return _answer(exc.status_code, str(exc))
        except DatabaseUnavailable as exc:
            headers = {"Retry-After": RETRY_AFTER}
            return _answer(exc.status_code, "database unavailable, retry later", headers)
        return JSONResponse(OK)

    return endpoint


async def _reply(events: PhoneEvents, reply: PhoneReply) -> None:
    answer = await events.reply(reply)
    if answer.text:  # Tencent cannot carry it back: kept in the log
        log.info("phone reply answered", channel=reply.channel, ok=answer.ok, answer=answer.text)


def _answer(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"result": 1, "errmsg": message}, status_code=status, headers=headers)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{where or 'the body'}: must be a JSON object")
    return value


def _field(item: dict[str, Any], key: str, where: str) -> str:
    value = _text(item.get(key)).strip()
    if not value:
        raise Malformed(f"{where + '.' if where else ''}{key}: required field is missing")
    return value


def _number(item: dict[str, Any], where: str) -> str:
    mobile = _field(item, "mobile", where)
    if mobile.startswith("+"):
        return mobile
    return "+" + _field(item, "nationcode", where).lstrip("+") + mobile


def _beijing(text: str, where: str) -> datetime:
    try:
        stamp = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise Malformed(
            f"{where}.user_receive_time: {text!r} is not 'YYYY-MM-DD hh:mm:ss'"
        ) from None
    return stamp.replace(tzinfo=BEIJING).astimezone(UTC)


def _unix(text: str, where: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(text), UTC)
    except (ValueError, OverflowError, OSError):
        raise Malformed(f"{where}: {text!r} is not a Unix time in seconds") from None


def _call_time(item: dict[str, Any], now: datetime) -> datetime:
    """When the call ended (else was answered, else started); `now` when Tencent left it 0."""
    for key in ("end_calltime", "accept_time", "start_calltime"):
        text = _text(item.get(key)).strip()
        if text.isdigit() and int(text) > 0:
            return _unix(text, key)
    return now


def _text(value: Any) -> str:
    return "" if value is None else str(value)
