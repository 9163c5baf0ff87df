"""Aliyun's receipt pushes (消息回执, "HTTP 批量推送" mode): the routes Aliyun POSTs delivery
reports, SMS replies and call records to, handed to the core's `PhoneEvents`.

What Alibaba Cloud documents, and what these routes do with it:

- Every push is a JSON array (one request may carry several items), ``application/json``,
  UTF-8. Aliyun wants ``{"code": 0, "msg": …}`` with HTTP 200; any other status, or no answer
  in time, is pushed again (after 1, 5 and 10 minutes, newer docs say up to 10 times), and
  the docs advise a 50x when the receiver cannot take it now. So the answer is given only
  once `PhoneEvents` has stored what the push said; `DatabaseUnavailable` is answered 503.
- ``SmsReport`` (``…/sms/report``): ``{phone_number, send_time, report_time, success,
  err_code, err_msg, sms_size, biz_id, out_id}`` → a report for ``biz_id`` (SendSms's
  ``BizId``): ``success`` true is `delivered`, false `undelivered` with ``err_code``.
- ``SmsUp`` (``…/sms/up``): ``{phone_number, send_time, content, sign_name, dest_code,
  sequence_id}`` → one `PhoneReply` each (mainland numbers come without ``+86``). Aliyun
  cannot carry an SMS back in its HTTP answer, so the `Answer` is only logged here.
- ``VoiceReport`` (``…/voice/report``): the call record after it ends, ``{call_id, start_time,
  end_time, duration, status_code, status_msg, callee, out_id, dtmf…}`` → a report for
  ``call_id`` by `aliyun_query.call_status`, and, when ``dtmf`` holds the keys an IvrCall
  took, a voice `PhoneReply` with the call's id. The call itself already played the key's
  template (it cannot wait for Tocsin), so the `Answer` is logged too.

Aliyun does not sign these pushes: each URL carries the provider's ``callback_token``
(``?token=…``, compared in constant time; 403 before anything is read). Routes exist only
when the token is set. A body over 64 KiB is refused (413); a body that is not the documented
array is 400, naming the missing field.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.notify.aliyun_query import beijing, call_status, e164
from adapters.notify.callbacks import path
from bot.clock import Clock
from bot.errors import DatabaseUnavailable, PayloadTooLarge
from bot.paging.events import PhoneEvents
from bot.ports import DeliveryReport, PhoneReply
from bot.web.body import read_body

log = structlog.get_logger(__name__)

LIMIT = 64 * 1024
OK = {"code": 0, "msg": "成功"}
Item = dict[str, Any]


class Malformed(ValueError):
    """A push that is not what Aliyun documents; the message names the field."""


def routes(
    name: str, channel: str, token: str, events: PhoneEvents, clock: Clock
) -> list[BaseRoute]:
    """The push routes of one Aliyun provider's channel (``sms``: report and up; ``voice``:
    report)."""
    hooks = _Hooks(name, token, events, clock)
    if channel == "sms":
        made = [("report", hooks.sms_report), ("up", hooks.sms_up)]
    else:
        made = [("report", hooks.voice_report)]
    return [
        Route(path(name, channel, event), hooks.endpoint(handle), methods=["POST"])
        for event, handle in made
    ]


class _Hooks:
    def __init__(self, name: str, token: str, events: PhoneEvents, clock: Clock) -> None:
        self.name, self.token, self.events, self.clock = name, token.encode(), events, clock

    def endpoint(
        self, handle: Callable[[list[Item]], Awaitable[None]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            given = request.query_params.get("token", "").encode()
            if not hmac.compare_digest(given, self.token):
                return _answer(403, "forbidden")
            try:
                items = _items(await read_body(request, LIMIT))
                await handle(items)
            except PayloadTooLarge as exc:
                return _answer(413, str(exc))
            except Malformed as exc:
                return _answer(400, str(exc))
            except DatabaseUnavailable:
                log.warning("aliyun push refused: database unavailable", path=request.url.path)
                return JSONResponse(
                    {"code": 503, "msg": "unavailable"}, 503, headers={"Retry-After": "60"}
                )
            return JSONResponse(OK)

        return endpoint

    async def sms_report(self, items: list[Item]) -> None:
        now = self.clock.now()
        reports = []
        for item in items:
            success = _field(item, "success")
            ok = success is True or str(success).lower() == "true"
            reports.append(
                DeliveryReport(
                    self.name,
                    str(_field(item, "biz_id")),
                    "delivered" if ok else "undelivered",
                    beijing(item.get("report_time"), now),
                    str(item.get("err_code") or ""),
                )
            )
        await self.events.receipts(reports)

    async def sms_up(self, items: list[Item]) -> None:
        now = self.clock.now()
        replies = [
            PhoneReply(
                self.name,
                "sms",
                e164(str(_field(item, "phone_number"))),
                str(_field(item, "content")),
                str(_field(item, "sequence_id")),
                beijing(item.get("send_time"), now),
            )
            for item in items
        ]
        for reply in replies:
            answer = await self.events.reply(reply)
            log.info(
                "aliyun sms reply answered (aliyun cannot carry the answer back)",
                provider=self.name,
                ok=answer.ok,
                answer=answer.text,
            )

    async def voice_report(self, items: list[Item]) -> None:
        now = self.clock.now()
        reports, replies = [], []
        for item in items:
            call_id = str(_field(item, "call_id"))
            code = str(_field(item, "status_code"))
            at = beijing(item.get("end_time") or item.get("status_time"), now)
            status = call_status(code)
            if status is not None:
                reports.append(DeliveryReport(self.name, call_id, status, at, code))
            keys = str(item.get("dtmf") or "").strip()
            if keys:
                number = e164(str(_field(item, "callee")))
                replies.append(PhoneReply(self.name, "voice", number, keys, call_id, at))
        if reports:
            await self.events.receipts(reports)
        for reply in replies:
            answer = await self.events.reply(reply)
            log.info(
                "aliyun keypress answered (the call has played the key's template)",
                provider=self.name,
                ok=answer.ok,
                answer=answer.text,
            )


def _items(body: bytes) -> list[Item]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed("body: not JSON (Aliyun pushes a JSON array)") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise Malformed("body: not a JSON array of objects")
    return data


def _field(item: Item, name: str) -> Any:
    value = item.get(name)
    if value is None or value == "":
        raise Malformed(f"{name}: required field is missing")
    return value


def _answer(status: int, message: str) -> Response:
    return JSONResponse({"code": status, "msg": message}, status)
