"""Aliyun's answers about sends, in Tocsin's words: what its query APIs and receipt pushes say
about a send, as a `DeliveryReport` (or nothing while it is still on its way), and numbers
between Aliyun's form and E.164.

What Alibaba Cloud documents, and how it maps:

- Dysmsapi ``QuerySendDetails`` (PhoneNumber, BizId, SendDate ``yyyyMMdd``, PageSize,
  CurrentPage) answers ``SmsSendDetailDTOs.SmsSendDetailDTO[]`` with ``SendStatus``: 1 waiting
  for the carrier's receipt (left out), 2 failed, 3 delivered, and ``ErrCode`` (``DELIVERED``
  or the carrier's code). A failure after Aliyun accepted the message is the carrier giving up,
  so 2 is `undelivered` with ``ErrCode`` as the detail.
- Dyvmsapi ``QueryCallDetailByCallId`` (CallId, ProdId, QueryDate in ms) answers ``Data``, a JSON
  *string* holding ``state`` (the call status code), ``stateDesc``, ``duration``…; an empty
  ``Data`` means no call record yet (left out).
- The call status codes (呼叫状态码, the same in ``VoiceReport`` pushes as ``status_code``):
  200000 heard to the end and 200001 hung up early are answered calls (`delivered`), as is
  200008 (answered, no key before the menu timed out); 200002 busy; 200003 rang, not answered
  (`no_answer`); 2001xx are two-party call states and 300000 an intermediate keypress report
  (left out); any other code (illegal number, unreachable, powered off, suspended…) is `failed`.
- Times are Beijing time (UTC+8, no daylight saving) without an offset.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from bot.ports import DeliveryReport, DeliveryStatus, Sent

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
SMS_STATUS: dict[str, DeliveryStatus] = {"2": "undelivered", "3": "delivered"}
CALL_STATUS: dict[str, DeliveryStatus] = {
    "200000": "delivered",
    "200001": "delivered",
    "200008": "delivered",
    "200002": "busy",
    "200003": "no_answer",
}
VOICE_NOTICE = "11000000300006"
"""``ProdId`` of voice notifications (SingleCallByTts)."""
IVR = "11000000300005"
"""``ProdId`` of interactive calls (IvrCall)."""


def call_status(code: str) -> DeliveryStatus | None:
    """A call status code in Tocsin's words; None while the call is not over."""
    if not code or code.startswith("2001") or code.startswith("3"):
        return None
    return CALL_STATUS.get(code, "failed")


def aliyun_form(number: str, international_prefix: str = "00") -> str:
    """An E.164 number as Aliyun takes it (see `values.aliyun_number`)."""
    digits = re.sub(r"[^\d+]", "", number)
    if digits.startswith("+86"):
        return digits[3:]
    return international_prefix + digits.lstrip("+")


def e164(number: str) -> str:
    """A number as Aliyun reports it, in E.164: mainland mobile numbers come without ``+86``
    (``13800138000``), others with ``00`` or just their country code."""
    digits = re.sub(r"[\s\-()]", "", number)
    if digits.startswith("+"):
        return digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if re.fullmatch(r"1\d{10}", digits):
        return "+86" + digits
    return "+" + digits


def beijing(text: Any, default: datetime) -> datetime:
    """``2017-01-01 00:00:00`` (Beijing time) as an aware UTC time; `default` when absent or
    unreadable."""
    try:
        when = datetime.strptime(str(text).strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return default
    return when.replace(tzinfo=BEIJING).astimezone(UTC)


def send_date(sent: Sent) -> str:
    """``SendDate``: the day it was sent, in Beijing."""
    return sent.sent_at.astimezone(BEIJING).strftime("%Y%m%d")


def query_date(sent: Sent) -> str:
    """``QueryDate``: milliseconds of the send (Aliyun looks up that day's records)."""
    return str(int(sent.sent_at.timestamp() * 1000))


def sms_report(
    provider: str, sent: Sent, answer: dict[str, Any], now: datetime
) -> DeliveryReport | None:
    """The report in a ``QuerySendDetails`` answer for `sent`; None while it waits."""
    details = answer.get("SmsSendDetailDTOs") or {}
    rows = details.get("SmsSendDetailDTO") if isinstance(details, dict) else details
    for row in rows or []:
        if not isinstance(row, dict):
            continue
        status = SMS_STATUS.get(str(row.get("SendStatus", "")))
        if status is None:
            continue
        detail = str(row.get("ErrCode") or "")
        at = beijing(row.get("ReceiveDate"), now)
        return DeliveryReport(provider, sent.message_id, status, at, detail)
    return None


def call_report(
    provider: str, sent: Sent, answer: dict[str, Any], now: datetime
) -> DeliveryReport | None:
    """The report in a ``QueryCallDetailByCallId`` answer for `sent`; None while the call is
    not over (or not recorded yet)."""
    data = answer.get("Data") or {}
    if isinstance(data, str):
        try:
            data = json.loads(data) if data.strip() else {}
        except ValueError:
            return None
    if not isinstance(data, dict):
        return None
    code = str(data.get("state") or "")
    status = call_status(code)
    if status is None:
        return None
    at = beijing(data.get("endDate") or data.get("startDate"), now)
    return DeliveryReport(provider, sent.message_id, status, at, code)
