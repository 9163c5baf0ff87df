"""Tencent Cloud's callbacks: the documented payloads parsed, and the routes driven by the fake
Tencent as it would call them (token in the URL, JSON bodies), handing reports, SMS replies and
keypresses to a recording `PhoneEvents`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fake_tencent import FakeTencent, split
from notify_support import RecordingEvents, page, recorded, tencent_sms, tencent_voice
from starlette.applications import Starlette
from structlog.testing import capture_logs

from adapters.notify import callback_routes, create, validate
from adapters.notify.tencent import TencentSms, TencentVoice
from adapters.notify.tencent_hooks import Malformed, sms_reply, sms_reports, voice_event
from bot.clock import FakeClock
from bot.ports import DeliveryReport, PhoneReply
from bot.settings import parse_settings
from tests.support import EXAMPLE_ENV, base_config

TOKEN = "tencent-callback-token-0123"
NOW = datetime(2024, 3, 1, 2, 14, tzinfo=UTC)
OK = {"result": 0, "errmsg": "OK"}
URL = "http://127.0.0.1:1"


Wire = Callable[..., Any]


@pytest.fixture
async def wire(tencent_api: FakeTencent) -> AsyncIterator[Wire]:
    """``wire(sms=…, voice=…)``: notifiers for the given sections, their callback routes served
    to the fake (which calls back with `TOKEN`); returns (notifiers by channel, RecordingEvents)."""
    clients: list[httpx.AsyncClient] = []
    made: list[Any] = []

    async def build(**sections: dict[str, Any]) -> tuple[dict[str, Any], RecordingEvents]:
        clock = FakeClock(NOW)
        chains = create(sections, clock=clock, public_url="https://tocsin.example")
        notifiers = {channel: chain[0].notifier for channel, chain in chains.items()}
        made.extend(notifiers.values())
        events = RecordingEvents()
        routes = callback_routes(chains, events)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=Starlette(routes=routes)),
            base_url="http://tocsin.test",
        )
        clients.append(client)
        for channel, chain in chains.items():
            tencent_api.callbacks_to(
                client, TOKEN, name=chain[0].name, channel=channel, clock=clock
            )
        return notifiers, events

    yield build
    for client in clients:
        await client.aclose()
    for notifier in made:
        await notifier.aclose()


def sms(api: FakeTencent, **overrides: Any) -> dict[str, Any]:
    return tencent_sms(api.base_url, callback_token=TOKEN, **overrides)


def voice(api: FakeTencent, **overrides: Any) -> dict[str, Any]:
    return tencent_voice(api.base_url, callback_token=TOKEN, **overrides)


# The documented payloads


def test_an_sms_status_push_is_read_as_reports_in_beijing_time() -> None:
    [report] = sms_reports("tencent", recorded("tencent_sms_status")["body"])
    assert report == DeliveryReport(
        provider="tencent",
        message_id="5000:1045710669157053657849499619",
        status="delivered",
        at=datetime(2015, 10, 17, 0, 3, 4, tzinfo=UTC),
        detail="DELIVRD",
    )


def test_a_failed_sms_is_undelivered_with_its_receipt_code() -> None:
    body = recorded("tencent_sms_status")["body"]
    body.append({**body[0], "sid": "5000:2", "report_status": "FAIL", "errmsg": "MK:0001"})
    reports = sms_reports("tc", body)
    assert [(r.provider, r.message_id, r.status, r.detail) for r in reports] == [
        ("tc", "5000:1045710669157053657849499619", "delivered", "DELIVRD"),
        ("tc", "5000:2", "undelivered", "MK:0001"),
    ]


def test_an_sms_reply_gets_a_stable_id_from_its_number_time_and_text() -> None:
    body = recorded("tencent_sms_reply")["body"]
    reply = sms_reply("tencent", body)
    assert (reply.channel, reply.number, reply.text) == ("sms", "+8613800138000", "1")
    assert reply.received_at == datetime.fromtimestamp(1457336869, UTC)
    assert sms_reply("tencent", dict(body)).message_id == reply.message_id
    assert sms_reply("tencent", {**body, "text": "2"}).message_id != reply.message_id


@pytest.mark.parametrize(
    ("result", "status"), [("0", "delivered"), ("1", "no_answer"), ("2", "failed")]
)
def test_a_call_status_push_is_a_report(result: str, status: str) -> None:
    body = recorded("tencent_voice_prompt")["body"]
    body["voiceprompt_callback"]["result"] = result
    report = voice_event("tencent", body, NOW)
    assert isinstance(report, DeliveryReport)
    assert (report.message_id, report.status) == ("8b5bc5b7-d1d0-4a1f-9d7a-54e1bf1c8a63", status)
    assert report.at == datetime.fromtimestamp(1470197221, UTC)


@pytest.mark.parametrize(
    ("code", "status"),
    [(8, "failed"), (2, "busy"), (10, "busy"), (5, "no_answer"), (20, "no_answer")],
)
def test_a_call_failure_push_says_why(code: int, status: str) -> None:
    body = recorded("tencent_voice_failure")["body"]
    body["voice_failure_callback"]["failure_code"] = code
    report = voice_event("tencent", body, NOW)
    assert isinstance(report, DeliveryReport)
    assert (report.status, report.at) == (status, NOW)
    assert report.detail.startswith(f"{code} ")


def test_a_keypress_push_is_a_reply_carrying_the_call_id() -> None:
    reply = voice_event("tencent", recorded("tencent_voice_key")["body"], NOW)
    assert reply == PhoneReply(
        provider="tencent",
        channel="voice",
        number="+8613800138000",
        text="2",
        message_id="8b5bc5b7-d1d0-4a1f-9d7a-54e1bf1c8a63",
        received_at=NOW,
    )


def test_a_voice_code_push_is_not_ours() -> None:
    body = {"voicecode_callback": {"result": "0", "callid": "x", "mobile": "1", "nationcode": "86"}}
    assert voice_event("tencent", body, NOW) is None


@pytest.mark.parametrize(
    ("parse", "body", "problem"),
    [
        (sms_reports, {"sid": "1"}, "JSON array"),
        (sms_reports, [{"report_status": "SUCCESS"}], r"\[0\]\.sid: required field is missing"),
        (sms_reports, [{"sid": "1", "report_status": "LOST"}], "neither SUCCESS nor FAIL"),
        (sms_reply, {"text": "1", "time": 1}, "mobile: required field is missing"),
        (sms_reply, {"mobile": "1", "nationcode": "86", "time": "soon"}, "not a Unix time"),
    ],
)
def test_malformed_sms_pushes_name_the_field(parse: Any, body: Any, problem: str) -> None:
    with pytest.raises(Malformed, match=problem):
        parse("tencent", body)


def test_a_malformed_voice_push_names_the_field() -> None:
    with pytest.raises(Malformed, match=r"voicekey_callback\.keypress: required"):
        voice_event("t", {"voicekey_callback": {"callid": "c", "mobile": "+861"}}, NOW)
    with pytest.raises(Malformed, match="expected one of voiceprompt_callback"):
        voice_event("t", {"hello": 1}, NOW)


def test_the_fake_splits_numbers_as_tencent_gives_them() -> None:
    assert split("+8613800138000") == ("86", "13800138000")
    assert split("+85261234567") == ("852", "61234567")
    assert split("+14155550100") == ("1", "4155550100")
    assert split("13800138000") == ("86", "13800138000")


# The routes, called back by the fake Tencent


async def test_sms_reports_reach_the_core_for_the_serial_sendsms_returned(
    tencent_api: FakeTencent, wire: Wire
) -> None:
    notifiers, events = await wire(sms=sms(tencent_api))
    delivered = await notifiers["sms"].send(page())
    lost = await notifiers["sms"].send(page(key="incident-42/step-1/alice/sms/2"))

    assert (await tencent_api.report(delivered.message_id)).json() == OK
    answer = await tencent_api.report(lost.message_id, success=False, errmsg="MK:0005")

    assert answer.status_code == 200 and answer.json() == OK
    assert [(r.provider, r.message_id, r.status, r.detail, r.at) for r in events.reports] == [
        ("tencent", delivered.message_id, "delivered", "DELIVRD", NOW),
        ("tencent", lost.message_id, "undelivered", "MK:0005", NOW),
    ]


async def test_an_sms_reply_is_handed_over_and_its_answer_only_logged(
    tencent_api: FakeTencent, wire: Wire
) -> None:
    _, events = await wire(sms=sms(tencent_api))
    with capture_logs() as logs:
        answer = await tencent_api.reply("+8613800138000", "1KQD")

    assert answer.json() == OK
    [reply] = events.replies
    assert (reply.provider, reply.channel, reply.number, reply.text, reply.received_at) == (
        "tencent",
        "sms",
        "+8613800138000",
        "1KQD",
        NOW,
    )
    assert [log["answer"] for log in logs if "answer" in log] == ["已确认 #42"]


async def test_a_call_reports_its_outcome_and_keys_against_its_call_id(
    tencent_api: FakeTencent, wire: Wire
) -> None:
    notifiers, events = await wire(voice=voice(tencent_api, name="tc"))
    call = await notifiers["voice"].send(page("voice"))

    assert (await tencent_api.keypress(call.message_id, "1")).json() == OK
    assert (await tencent_api.call_status(call.message_id)).json() == OK
    busy = await notifiers["voice"].send(page("voice", key="incident-42/step-1/alice/voice/2"))
    assert (await tencent_api.call_failure(busy.message_id, 10, "用户正忙")).json() == OK

    [key] = events.replies
    assert (key.provider, key.channel, key.number, key.text, key.message_id) == (
        "tc",
        "voice",
        "+8613800138000",
        "1",
        call.message_id,
    )
    assert [(r.provider, r.message_id, r.status, r.detail) for r in events.reports] == [
        ("tc", call.message_id, "delivered", "result 0"),
        ("tc", busy.message_id, "busy", "10 用户正忙"),
    ]


@pytest.mark.parametrize("token", ["", "tencent-callback-token-0124", TOKEN + "x"])
async def test_a_wrong_or_missing_token_is_refused_before_anything_is_read(
    tencent_api: FakeTencent, wire: Wire, token: str
) -> None:
    notifiers, events = await wire(sms=sms(tencent_api), voice=voice(tencent_api))
    sent = await notifiers["sms"].send(page())
    call = await notifiers["voice"].send(page("voice"))

    answers = [
        await tencent_api.report(sent.message_id, token=token),
        await tencent_api.reply("+8613800138000", "1", token=token),
        await tencent_api.keypress(call.message_id, token=token),
    ]

    assert [a.status_code for a in answers] == [403, 403, 403]
    assert answers[0].json() == {"result": 1, "errmsg": "missing or wrong token"}
    assert events.reports == [] and events.replies == []


@pytest.mark.parametrize(
    ("event", "body", "problem"),
    [
        ("status", b"{not json", "the body is not JSON"),
        ("status", b'[{"report_status": "SUCCESS"}]', "[0].sid: required field is missing"),
        ("reply", b'{"mobile": "13800138000", "nationcode": "86"}', "time: required field"),
    ],
)
async def test_a_malformed_body_is_refused_naming_what_is_wrong(
    tencent_api: FakeTencent, wire: Wire, event: str, body: bytes, problem: str
) -> None:
    _, events = await wire(sms=sms(tencent_api))
    answer = await tencent_api.push("sms", event, body)
    assert answer.status_code == 400
    assert answer.json()["result"] == 1 and problem in answer.json()["errmsg"]
    assert events.reports == [] and events.replies == []


async def test_a_voice_push_of_an_unknown_shape_is_refused(
    tencent_api: FakeTencent, wire: Wire
) -> None:
    _, events = await wire(voice=voice(tencent_api))
    answer = await tencent_api.push(
        "voice", "callback", {"voicekey_callback": {"callid": "c", "mobile": "+861"}}
    )
    assert answer.status_code == 400
    assert "voicekey_callback.keypress: required field is missing" in answer.json()["errmsg"]
    assert (await tencent_api.push("voice", "callback", [])).status_code == 400
    ignored = {"voicecode_callback": {"result": "0", "callid": "c"}}
    assert (await tencent_api.push("voice", "callback", ignored)).json() == OK
    assert events.reports == [] and events.replies == []


async def test_a_body_over_64_kib_is_refused(tencent_api: FakeTencent, wire: Wire) -> None:
    _, events = await wire(sms=sms(tencent_api))
    item = recorded("tencent_sms_status")["body"][0]
    answer = await tencent_api.push("sms", "status", [item] * 400)
    assert answer.status_code == 413
    assert events.reports == []


async def test_only_post_is_allowed(tencent_api: FakeTencent, wire: Wire) -> None:
    await wire(sms=sms(tencent_api))
    assert tencent_api._app is not None
    answer = await tencent_api._app.get(
        "/api/v1/pagers/tencent/sms/status", params={"token": TOKEN}
    )
    assert answer.status_code == 405


async def test_the_database_being_down_answers_503_so_tencent_retries(
    tencent_api: FakeTencent, wire: Wire
) -> None:
    notifiers, events = await wire(sms=sms(tencent_api), voice=voice(tencent_api))
    sent = await notifiers["sms"].send(page())
    call = await notifiers["voice"].send(page("voice"))
    events.down = True

    answers = [
        await tencent_api.report(sent.message_id),
        await tencent_api.reply("+8613800138000", "1"),
        await tencent_api.keypress(call.message_id),
    ]

    assert [a.status_code for a in answers] == [503, 503, 503]
    assert all(a.headers["Retry-After"] for a in answers)
    assert answers[0].json()["result"] == 1


async def test_without_a_token_there_are_no_routes() -> None:
    chains = create({"sms": tencent_sms(URL), "voice": tencent_voice(URL)})
    for channel in ("sms", "voice"):
        quiet = chains[channel][0].notifier
        assert isinstance(quiet, TencentSms | TencentVoice)
        assert quiet.callback_routes(RecordingEvents()) == [] and quiet.callback_urls() == {}
        await quiet.aclose()


async def test_the_callback_urls_to_enter_in_the_console() -> None:
    chains = create(
        {
            "sms": tencent_sms(URL, callback_token=TOKEN),
            "voice": tencent_voice(URL, name="tc", callback_token=TOKEN),
        },
        public_url="https://tocsin.example/",
    )
    sms_notifier, voice_notifier = chains["sms"][0].notifier, chains["voice"][0].notifier
    assert isinstance(sms_notifier, TencentSms) and isinstance(voice_notifier, TencentVoice)
    base = "https://tocsin.example/api/v1/pagers"
    assert sms_notifier.callback_urls() == {
        "status": f"{base}/tencent/sms/status?token={TOKEN}",
        "reply": f"{base}/tencent/sms/reply?token={TOKEN}",
    }
    assert voice_notifier.callback_urls() == {"callback": f"{base}/tc/voice/callback?token={TOKEN}"}
    for notifier in (sms_notifier, voice_notifier):
        await notifier.aclose()


# The setting


@pytest.mark.parametrize(
    "token", ["too-short", "has spaces in it, sixteen+", "with&ampersand=0123456789"]
)
def test_a_callback_token_must_be_long_and_url_safe(token: str) -> None:
    problems = validate({"sms": tencent_sms(URL, callback_token=token)})
    assert problems == [
        "sms.callback_token: must be at least 16 URL-safe characters (letters, digits, . _ ~ -)"
    ]
    assert all(token not in p for p in problems)


def test_tocsin_check_takes_callback_tokens() -> None:
    from bot.bootstrap import check_adapters

    good = {"sms": tencent_sms(URL, callback_token=TOKEN), "voice": tencent_voice(URL)}
    assert check_adapters(parse_settings(base_config(pagers=good), env=EXAMPLE_ENV)) == []
    bad = {"voice": [tencent_voice(URL, callback_token="short")]}
    assert check_adapters(parse_settings(base_config(pagers=bad), env=EXAMPLE_ENV)) == [
        "pagers.voice[0].callback_token: must be at least 16 URL-safe characters "
        "(letters, digits, . _ ~ -)"
    ]
