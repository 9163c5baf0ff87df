"""Aliyun delivery receipts, polled (QuerySendDetails, QueryCallDetailByCallId) and pushed
(SmsReport, SmsUp, VoiceReport), and IvrCall menus, against the fake Aliyun; the pushes reach
the adapter's routes through a recording `PhoneEvents`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fake_aliyun import FakeAliyun
from notify_support import RecordingEvents, aliyun_sms, aliyun_voice, page, recorded
from starlette.applications import Starlette

from adapters.notify import create
from adapters.notify.aliyun import AliyunSms, AliyunVoice
from adapters.notify.aliyun_query import call_report, sms_report
from bot.clock import FakeClock
from bot.errors import ConfigError, RetryableDelivery
from bot.ports import DeliveryReport, PhoneReply, Sent

TOKEN = "push-token-0123456789abcdef"
Build = Callable[..., Any]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 5, 3, 0, tzinfo=UTC))  # 11:00 in Beijing


@pytest.fixture
async def build(clock: FakeClock, aliyun_api: FakeAliyun) -> AsyncIterator[Build]:
    """``build(channel, section)``: the Aliyun notifier `create` makes; closed after."""
    aliyun_api.now = clock.now
    made: list[Any] = []

    def make(channel: str, section: dict[str, Any]) -> Any:
        [provider] = create({channel: section}, clock=clock)[channel]
        made.append(provider.notifier)
        return provider.notifier

    yield make
    for notifier in made:
        await notifier.aclose()


def sent(message_id: str, clock: FakeClock, to: str = "+8613800138000") -> Sent:
    return Sent(message_id, to, clock.now())


# --- the documentation's examples -------------------------------------------------------------


def test_documented_query_send_details_answer_is_delivered() -> None:
    now = datetime(2026, 1, 5, tzinfo=UTC)
    report = sms_report(
        "aliyun", Sent("1^0", "+86152", now), recorded("aliyun_query_send_details_ok"), now
    )
    assert report == DeliveryReport(
        "aliyun", "1^0", "delivered", datetime(2019, 1, 8, 8, 44, 13, tzinfo=UTC), "DELIVERED"
    )


def test_documented_call_detail_answer_is_delivered() -> None:
    now = datetime(2026, 1, 5, tzinfo=UTC)
    answer = recorded("aliyun_query_call_detail_ok")
    report = call_report("aliyun", Sent("c^1", "+86136", now), answer, now)
    assert report == DeliveryReport(
        "aliyun", "c^1", "delivered", datetime(2019, 1, 8, 8, 44, 31, tzinfo=UTC), "200000"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, None),
        ("", None),
        ('{"state":"200003"}', "no_answer"),
        ('{"state":"200002"}', "busy"),
        ('{"state":"200001"}', "delivered"),
        ('{"state":"200011"}', "failed"),
        ('{"state":"200103"}', None),
        ("not json", None),
    ],
)
def test_call_states(data: str | None, expected: str | None) -> None:
    now = datetime(2026, 1, 5, tzinfo=UTC)
    report = call_report("aliyun", Sent("c", "+86136", now), {"Data": data}, now)
    assert (report.status if report else None) == expected


async def post(app: Starlette, url: str, body: bytes, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        return await client.post(url, content=body, **kwargs)


def routes_app(notifier: Any, events: RecordingEvents) -> Starlette:
    return Starlette(routes=notifier.callback_routes(events))


async def test_documented_pushes_become_receipts_and_replies(build: Build) -> None:
    sms = build("sms", aliyun_sms("http://127.0.0.1:9", callback_token=TOKEN))
    voice = build("voice", aliyun_voice("http://127.0.0.1:9", callback_token=TOKEN))
    events = RecordingEvents()
    app = Starlette(routes=sms.callback_routes(events) + voice.callback_routes(events))
    ok = {"code": 0, "msg": "成功"}

    report = recorded("aliyun_sms_report")["body"]
    answer = await post(app, f"/api/v1/pagers/aliyun/sms/report?token={TOKEN}", _json(report))
    assert (answer.status_code, answer.json()) == (200, ok)

    up = recorded("aliyun_sms_up")["body"]
    up[0]["phone_number"] = "13811112222"
    answer = await post(app, f"/api/v1/pagers/aliyun/sms/up?token={TOKEN}", _json(up))
    assert (answer.status_code, answer.json()) == (200, ok)

    call = recorded("aliyun_voice_report")["body"]
    call[0]["callee"] = "13900001111"
    answer = await post(app, f"/api/v1/pagers/aliyun/voice/report?token={TOKEN}", _json(call))
    assert (answer.status_code, answer.json()) == (200, ok)

    beijing_2017 = datetime(2016, 12, 31, 16, 0, tzinfo=UTC)
    assert events.reports == [
        DeliveryReport("aliyun", "12345********", "delivered", beijing_2017, "DELIVERED"),
        DeliveryReport(
            "aliyun",
            "100001616500^100001871490",
            "failed",
            datetime(2017, 6, 1, 2, 0, tzinfo=UTC),
            "200010",
        ),
    ]
    sms_reply, key_reply = events.replies
    assert sms_reply == PhoneReply(
        "aliyun",
        "sms",
        "+8613811112222",
        "内容",
        "1234567890",
        datetime(2017, 8, 31, 16, 0, tzinfo=UTC),
    )
    assert (key_reply.channel, key_reply.number, key_reply.text) == (
        "voice",
        "+8613900001111",
        "123456",
    )
    assert key_reply.message_id == "100001616500^100001871490"


# --- polling --------------------------------------------------------------------------------


async def test_sms_statuses_report_final_states_and_leave_waiting_out(
    aliyun_api: FakeAliyun, build: Build, clock: FakeClock
) -> None:
    sms: AliyunSms = build("sms", aliyun_sms(aliyun_api.base_url, name="ali-cn"))
    delivered = (await sms.send(page())).message_id
    undelivered = (await sms.send(page())).message_id
    waiting = (await sms.send(page())).message_id
    aliyun_api.set_outcome(delivered, "delivered")
    aliyun_api.set_outcome(undelivered, "undelivered", err_code="MN:0001")
    clock.advance(60)

    reports = await sms.statuses([sent(m, clock) for m in (delivered, undelivered, waiting)])

    assert [(r.provider, r.message_id, r.status, r.detail) for r in reports] == [
        ("ali-cn", delivered, "delivered", "DELIVERED"),
        ("ali-cn", undelivered, "undelivered", "MN:0001"),
    ]
    assert reports[0].at == clock.now() - timedelta(seconds=57)  # ReceiveDate, Beijing time
    query = aliyun_api.actions("QuerySendDetails")[0]
    assert query["PhoneNumber"] == "13800138000"
    assert query["BizId"] == delivered
    assert query["SendDate"] == "20260105"


async def test_sms_send_date_is_the_day_in_beijing(aliyun_api: FakeAliyun, build: Build) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 17, 0, tzinfo=UTC))  # 01:00 on the 6th in Beijing
    aliyun_api.now = clock.now
    [provider] = create({"sms": aliyun_sms(aliyun_api.base_url)}, clock=clock)["sms"]
    sms: Any = provider.notifier
    message_id = (await sms.send(page())).message_id
    aliyun_api.set_outcome(message_id, "delivered")
    [report] = await sms.statuses([Sent(message_id, "+8613800138000", clock.now())])
    assert report.status == "delivered"
    assert aliyun_api.actions("QuerySendDetails")[0]["SendDate"] == "20260106"
    await sms.aclose()


@pytest.mark.parametrize(
    ("outcome", "status", "detail"),
    [
        ("delivered", "delivered", "200000"),
        ("no_answer", "no_answer", "200003"),
        ("busy", "busy", "200002"),
        ("failed", "failed", "200010"),
    ],
)
async def test_voice_statuses_map_call_states(
    aliyun_api: FakeAliyun, build: Build, clock: FakeClock, outcome: str, status: str, detail: str
) -> None:
    voice: AliyunVoice = build("voice", aliyun_voice(aliyun_api.base_url))
    call_id = (await voice.send(page("voice"))).message_id
    aliyun_api.set_outcome(call_id, outcome)

    [report] = await voice.statuses([sent(call_id, clock)])

    assert (report.provider, report.message_id, report.status, report.detail) == (
        "aliyun",
        call_id,
        status,
        detail,
    )
    query = aliyun_api.actions("QueryCallDetailByCallId")[0]
    assert query["ProdId"] == "11000000300006"
    assert query["QueryDate"] == str(int(clock.now().timestamp() * 1000))


async def test_call_not_over_is_left_out(
    aliyun_api: FakeAliyun, build: Build, clock: FakeClock
) -> None:
    voice: AliyunVoice = build("voice", aliyun_voice(aliyun_api.base_url))
    call_id = (await voice.send(page("voice"))).message_id
    assert await voice.statuses([sent(call_id, clock)]) == []


async def test_throttled_first_query_is_retryable(
    aliyun_api: FakeAliyun, build: Build, clock: FakeClock
) -> None:
    sms: AliyunSms = build("sms", aliyun_sms(aliyun_api.base_url))
    message_id = (await sms.send(page())).message_id
    aliyun_api.set_outcome(message_id, "delivered")
    aliyun_api.fail("QuerySendDetails", "Throttling.User", status=400, retry_after=5)
    with pytest.raises(RetryableDelivery) as caught:
        await sms.statuses([sent(message_id, clock)])
    assert caught.value.retry_after == 5.0


async def test_throttled_part_way_keeps_the_reports_so_far(
    aliyun_api: FakeAliyun, build: Build, clock: FakeClock
) -> None:
    sms: AliyunSms = build("sms", aliyun_sms(aliyun_api.base_url))
    first = (await sms.send(page())).message_id
    second = (await sms.send(page())).message_id
    aliyun_api.set_outcome(first, "delivered")
    aliyun_api.set_outcome(second, "delivered")
    aliyun_api.fail("QuerySendDetails", "isv.BUSINESS_LIMIT_CONTROL", after=1)

    reports = await sms.statuses([sent(first, clock), sent(second, clock)])
    assert [r.message_id for r in reports] == [first]  # the second is asked next time
    reports = await sms.statuses([sent(second, clock)])
    assert [r.message_id for r in reports] == [second]


async def test_a_send_aliyun_refuses_to_look_up_is_left_out(
    aliyun_api: FakeAliyun, build: Build, clock: FakeClock
) -> None:
    sms: AliyunSms = build("sms", aliyun_sms(aliyun_api.base_url))
    message_id = (await sms.send(page())).message_id
    aliyun_api.set_outcome(message_id, "delivered")
    aliyun_api.fail("QuerySendDetails", "isv.MOBILE_NUMBER_ILLEGAL")
    reports = await sms.statuses([sent("x^0", clock), sent(message_id, clock)])
    assert [r.message_id for r in reports] == [message_id]


# --- IvrCall ----------------------------------------------------------------------------------

IVR = {"keys": {"1": "TTS_100001", "2": "TTS_100002"}, "bye_code": "TTS_100003", "timeout": "8s"}


async def test_ivr_calls_take_keys_for_mainland_numbers(
    aliyun_api: FakeAliyun, build: Build, clock: FakeClock
) -> None:
    voice: AliyunVoice = build("voice", aliyun_voice(aliyun_api.base_url, ivr=IVR))
    call_id = (await voice.send(page("voice"))).message_id
    await voice.send(page("voice", to="+85261234567"))

    [menu] = aliyun_api.actions("IvrCall")
    assert menu["CalledNumber"] == "13800138000"
    assert menu["StartCode"] == "TTS_654321"
    assert (menu["MenuKeyMap.1.Key"], menu["MenuKeyMap.1.Code"]) == ("1", "TTS_100001")
    assert (menu["MenuKeyMap.2.Key"], menu["MenuKeyMap.2.Code"]) == ("2", "TTS_100002")
    assert menu["ByeCode"] == "TTS_100003" and menu["Timeout"] == "8000"
    assert "OutId" not in menu  # IvrCall takes at most 15 bytes there
    [plain] = aliyun_api.actions("SingleCallByTts")  # IvrCall calls mainland numbers only
    assert plain["CalledNumber"] == "0085261234567"

    aliyun_api.set_outcome(call_id, "delivered")
    [report] = await voice.statuses([sent(call_id, clock)])
    assert report.status == "delivered"
    assert aliyun_api.actions("QueryCallDetailByCallId")[0]["ProdId"] == "11000000300005"


def test_ivr_needs_both_keys_and_a_long_token() -> None:
    with pytest.raises(ConfigError) as caught:
        create(
            {"voice": aliyun_voice("http://x", ivr={"keys": {"1": "T"}}, callback_token="short")}
        )
    assert "voice.ivr.keys" in str(caught.value)
    assert "voice.callback_token" in str(caught.value)


# --- push routes ------------------------------------------------------------------------------


@pytest.fixture
def events() -> RecordingEvents:
    return RecordingEvents()


@pytest.fixture
def pushing(
    aliyun_api: FakeAliyun, build: Build, events: RecordingEvents
) -> tuple[AliyunSms, AliyunVoice]:
    sms = build("sms", aliyun_sms(aliyun_api.base_url, callback_token=TOKEN))
    voice = build("voice", aliyun_voice(aliyun_api.base_url, callback_token=TOKEN))
    app = Starlette(routes=sms.callback_routes(events) + voice.callback_routes(events))
    aliyun_api.push_to(app, token=TOKEN)
    return sms, voice


def test_no_token_no_routes(build: Build, events: RecordingEvents) -> None:
    sms = build("sms", aliyun_sms("http://127.0.0.1:9"))
    assert sms.callback_routes(events) == []
    sms = build("sms", aliyun_sms("http://127.0.0.1:9", name="ali", callback_token=TOKEN))
    paths = sorted(route.path for route in sms.callback_routes(events))
    assert paths == ["/api/v1/pagers/ali/sms/report", "/api/v1/pagers/ali/sms/up"]


async def test_pushed_sms_reports_are_recorded(
    aliyun_api: FakeAliyun, pushing: tuple[AliyunSms, AliyunVoice], events: RecordingEvents
) -> None:
    sms, _ = pushing
    delivered = (await sms.send(page())).message_id
    refused = (await sms.send(page())).message_id
    aliyun_api.set_outcome(refused, "undelivered", err_code="MK:0001")

    assert await aliyun_api.push_report(delivered) == (200, {"code": 0, "msg": "成功"})
    assert await aliyun_api.push_report(refused) == (200, {"code": 0, "msg": "成功"})

    assert [(r.message_id, r.status, r.detail) for r in events.reports] == [
        (delivered, "delivered", "DELIVERED"),
        (refused, "undelivered", "MK:0001"),
    ]


async def test_pushed_sms_reply_reaches_the_core(
    aliyun_api: FakeAliyun,
    pushing: tuple[AliyunSms, AliyunVoice],
    events: RecordingEvents,
    clock: FakeClock,
) -> None:
    status, _ = await aliyun_api.push_up("+8613800138000", "1KQD")
    assert status == 200
    [reply] = events.replies
    assert (reply.provider, reply.channel, reply.number, reply.text) == (
        "aliyun",
        "sms",
        "+8613800138000",
        "1KQD",
    )
    assert reply.message_id == "1234567890"
    assert reply.received_at == clock.now()


async def test_pushed_keypress_reaches_the_core_with_the_call(
    aliyun_api: FakeAliyun, pushing: tuple[AliyunSms, AliyunVoice], events: RecordingEvents
) -> None:
    _, voice = pushing
    call_id = (await voice.send(page("voice"))).message_id
    assert (await aliyun_api.push_voice_report(call_id, dtmf="1"))[0] == 200
    [report] = events.reports
    assert (report.message_id, report.status) == (call_id, "delivered")
    [reply] = events.replies
    assert (reply.channel, reply.number, reply.text, reply.message_id) == (
        "voice",
        "+8613800138000",
        "1",
        call_id,
    )


async def test_unanswered_call_report_has_no_reply(
    aliyun_api: FakeAliyun, pushing: tuple[AliyunSms, AliyunVoice], events: RecordingEvents
) -> None:
    _, voice = pushing
    call_id = (await voice.send(page("voice"))).message_id
    aliyun_api.set_outcome(call_id, "no_answer")
    await aliyun_api.push_voice_report(call_id)
    assert [r.status for r in events.reports] == ["no_answer"]
    assert events.replies == []


@pytest.mark.parametrize("token", ["wrong-token-0123456789abcdef", ""])
async def test_wrong_token_is_refused_before_anything_is_read(
    aliyun_api: FakeAliyun,
    pushing: tuple[AliyunSms, AliyunVoice],
    events: RecordingEvents,
    token: str,
) -> None:
    sms, _ = pushing
    message_id = (await sms.send(page())).message_id
    status, _ = await aliyun_api.push_report(message_id, token=token)
    assert status == 403
    assert (await aliyun_api.push_up("+8613800138000", "1", token=token))[0] == 403
    assert events.reports == [] and events.replies == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ([{"success": True}], "biz_id"),
        ([{"biz_id": "1^0"}], "success"),
        ("not json", "body"),
        ([1, 2], "body"),
    ],
)
async def test_malformed_report_is_400_naming_the_field(
    aliyun_api: FakeAliyun,
    pushing: tuple[AliyunSms, AliyunVoice],
    events: RecordingEvents,
    body: Any,
    named: str,
) -> None:
    status, answer = await aliyun_api.push("sms", "report", body)
    assert status == 400
    assert named in answer["msg"]
    assert events.reports == []


async def test_malformed_reply_and_keypress_are_400(
    aliyun_api: FakeAliyun, pushing: tuple[AliyunSms, AliyunVoice], events: RecordingEvents
) -> None:
    status, answer = await aliyun_api.push("sms", "up", [{"phone_number": "13800138000"}])
    assert (status, "content" in answer["msg"]) == (400, True)
    keypress = [{"call_id": "c^1", "status_code": "200000", "dtmf": "1"}]
    status, answer = await aliyun_api.push("voice", "report", keypress)
    assert (status, "callee" in answer["msg"]) == (400, True)
    assert events.reports == [] and events.replies == []


async def test_oversized_push_is_413(
    aliyun_api: FakeAliyun, pushing: tuple[AliyunSms, AliyunVoice], events: RecordingEvents
) -> None:
    item = {"biz_id": "1^0", "success": True, "err_msg": "x" * 1000}
    status, _ = await aliyun_api.push("sms", "report", [item] * 70)
    assert status == 413
    assert events.reports == []


async def test_only_post_is_allowed(
    aliyun_api: FakeAliyun, pushing: tuple[AliyunSms, AliyunVoice], events: RecordingEvents
) -> None:
    transport = httpx.ASGITransport(app=aliyun_api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        answer = await client.get(f"/api/v1/pagers/aliyun/sms/report?token={TOKEN}")
    assert answer.status_code == 405


async def test_database_down_is_503_so_aliyun_pushes_again(
    aliyun_api: FakeAliyun, pushing: tuple[AliyunSms, AliyunVoice], events: RecordingEvents
) -> None:
    sms, _ = pushing
    message_id = (await sms.send(page())).message_id
    events.down = True
    status, _ = await aliyun_api.push_report(message_id)
    assert status == 503
    assert (await aliyun_api.push_up("+8613800138000", "1"))[0] == 503
    events.down = False
    assert (await aliyun_api.push_report(message_id))[0] == 200
    assert [r.message_id for r in events.reports] == [message_id]


async def test_push_is_answered_only_once_stored(
    aliyun_api: FakeAliyun, pushing: tuple[AliyunSms, AliyunVoice], events: RecordingEvents
) -> None:
    sms, _ = pushing
    message_id = (await sms.send(page())).message_id
    events.gate = asyncio.Event()
    push = asyncio.create_task(aliyun_api.push_report(message_id))
    for _ in range(50):  # let the push reach the gate
        await asyncio.sleep(0)
    assert not push.done()
    events.gate.set()
    assert (await push)[0] == 200
    assert len(events.reports) == 1


def _json(body: Any) -> bytes:
    import json

    return json.dumps(body, ensure_ascii=False).encode()
