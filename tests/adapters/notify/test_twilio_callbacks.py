"""Twilio's webhooks: ``X-Twilio-Signature`` checked against Twilio's published example, and each
callback route driven by the fake Twilio (which signs like Twilio) into an app holding the
routes, with a recording `PhoneEvents` standing in for the core."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl

import httpx
import pytest
from fake_twilio import FakeTwilio
from notify_support import DATA, TWILIO_TOKEN, RecordingEvents, page, twilio
from starlette.applications import Starlette

from adapters.notify import callback_routes, create
from adapters.notify.callbacks import path
from adapters.notify.twilio_sign import signature, valid
from bot.clock import FakeClock
from bot.ports import Answer, DeliveryReport, DeliveryStatus, Notifier

PUBLIC = "https://tocsin.example"
ALICE = "+8613800138000"
KEYS_ZH = "确认请按 1，升级请按 2。"


@dataclass
class Wired:
    twilio: FakeTwilio
    events: RecordingEvents
    clock: FakeClock
    sms: Notifier
    voice: Notifier

    @property
    def told(self) -> list[object]:
        return [*self.events.reports, *self.events.replies]


@pytest.fixture
async def wired(twilio_api: FakeTwilio) -> AsyncIterator[Wired]:
    """Twilio SMS and voice providers sending to the fake, their callback routes in an app the
    fake calls back in-process, as it would call ``https://tocsin.example``."""
    clock = FakeClock()
    section = twilio(twilio_api.base_url)
    chains = create({"sms": section, "voice": section}, clock=clock, public_url=PUBLIC)
    events = RecordingEvents()
    twilio_api.callbacks_to(PUBLIC, app=Starlette(routes=callback_routes(chains, events)))
    [sms], [voice] = chains["sms"], chains["voice"]
    yield Wired(twilio_api, events, clock, sms.notifier, voice.notifier)
    await sms.notifier.aclose()
    await voice.notifier.aclose()


def test_signature_matches_twilios_published_example() -> None:
    example = json.loads((DATA / "twilio_signature_example.json").read_text(encoding="utf-8"))
    params = list(example["params"].items())
    assert signature(example["token"], example["url"], params) == example["signature"]
    assert valid(example["token"], example["url"], params, example["signature"])
    assert not valid(example["token"], example["url"] + "&baz=3", params, example["signature"])
    assert not valid("54321", example["url"], params, example["signature"])


@pytest.mark.parametrize(
    ("status", "error_code", "expected", "detail"),
    [
        ("delivered", None, "delivered", "delivered"),
        ("read", None, "delivered", "read"),
        ("undelivered", 30008, "undelivered", "30008"),
        ("failed", 30006, "failed", "30006"),
        ("sent", None, "sent", "sent"),
    ],
)
async def test_sms_status_becomes_a_delivery_report(
    wired: Wired, status: str, error_code: int | None, expected: DeliveryStatus, detail: str
) -> None:
    receipt = await wired.sms.send(page())
    wired.clock.advance(timedelta(seconds=40))

    answer = await wired.twilio.deliver(receipt.message_id, status, error_code)

    assert answer.status == 204
    assert wired.events.reports == [
        DeliveryReport("twilio", receipt.message_id, expected, wired.clock.now(), detail)
    ]


@pytest.mark.parametrize("status", ["queued", "sending", "accepted"])
async def test_sms_status_on_the_way_is_not_handed_on(wired: Wired, status: str) -> None:
    receipt = await wired.sms.send(page())
    assert (await wired.twilio.deliver(receipt.message_id, status)).status == 204
    assert wired.events.reports == []


async def test_recorded_status_callback_is_read(wired: Wired) -> None:
    receipt = await wired.sms.send(page())
    lines = (DATA / "twilio_sms_status.txt").read_text(encoding="utf-8").splitlines()
    form = dict(parse_qsl(next(line for line in lines if not line.startswith("#"))))
    form |= {"MessageSid": receipt.message_id, "SmsSid": receipt.message_id}

    answer = await wired.twilio.post(PUBLIC + path("twilio", "sms", "status"), form)

    assert answer.status == 204
    [report] = wired.events.reports
    assert (report.status, report.detail) == ("undelivered", "30008")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("completed", "delivered"),
        ("busy", "busy"),
        ("no-answer", "no_answer"),
        ("failed", "failed"),
        ("canceled", "failed"),
    ],
)
async def test_call_status_becomes_a_delivery_report(
    wired: Wired, status: str, expected: str
) -> None:
    receipt = await wired.voice.send(page("voice", prompt=KEYS_ZH))

    assert (await wired.twilio.deliver(receipt.message_id, status)).status == 204

    [report] = wired.events.reports
    assert (report.provider, report.message_id) == ("twilio", receipt.message_id)
    assert (report.status, report.detail) == (expected, status)


@pytest.mark.parametrize("status", ["ringing", "in-progress"])
async def test_call_on_its_way_is_not_handed_on(wired: Wired, status: str) -> None:
    receipt = await wired.voice.send(page("voice"))
    assert (await wired.twilio.deliver(receipt.message_id, status)).status == 204
    assert wired.events.reports == []


async def test_sms_reply_is_handed_on_and_answered(wired: Wired) -> None:
    answer = await wired.twilio.inbound(ALICE, "1 KQD")

    assert answer.status == 200
    assert answer.message == "已确认 #42"
    [reply] = wired.events.replies
    assert (reply.provider, reply.channel, reply.number, reply.text) == (
        "twilio",
        "sms",
        ALICE,
        "1 KQD",
    )
    assert reply.message_id.startswith("SM") and reply.received_at == wired.clock.now()


async def test_sms_reply_from_an_unknown_number_gets_no_message(wired: Wired) -> None:
    wired.events.answer = Answer("", False)
    answer = await wired.twilio.inbound("+14155550100", "1")
    assert (answer.status, answer.body) == (200, "<Response/>")
    assert answer.message is None


async def test_answer_text_is_escaped(wired: Wired) -> None:
    wired.events.answer = Answer("#42 <orders> & co acknowledged", True, "en")
    assert (await wired.twilio.inbound(ALICE, "1")).message == "#42 <orders> & co acknowledged"


async def test_keypress_is_handed_on_and_the_answer_read_in_the_pages_language(
    wired: Wired,
) -> None:
    receipt = await wired.voice.send(page("voice", prompt=KEYS_ZH))

    answer = await wired.twilio.press(receipt.message_id, "1")

    assert answer.status == 200
    assert answer.said == ["已确认 #42"] and answer.hung_up
    assert 'language="cmn-CN"' in answer.body and 'voice="Polly.Zhiyu"' in answer.body
    [reply] = wired.events.replies
    assert (reply.channel, reply.number, reply.text, reply.message_id) == (
        "voice",
        ALICE,
        "1",
        receipt.message_id,
    )


async def test_keypress_with_nothing_to_say_hangs_up(wired: Wired) -> None:
    wired.events.answer = Answer("", False)
    receipt = await wired.voice.send(page("voice", lang="en", prompt="Press 1 to acknowledge."))
    answer = await wired.twilio.press(receipt.message_id, "9")
    assert answer.said == [] and answer.hung_up


async def test_forged_signature_is_refused_and_nothing_is_told(wired: Wired) -> None:
    sms = await wired.sms.send(page())
    call = await wired.voice.send(page("voice", prompt=KEYS_ZH))

    answers = [
        await wired.twilio.deliver(sms.message_id, token="forged-token"),
        await wired.twilio.inbound(ALICE, "1", token="forged-token"),
        await wired.twilio.deliver(call.message_id, token="forged-token"),
        await wired.twilio.press(call.message_id, "1", token="forged-token"),
    ]

    assert [a.status for a in answers] == [403] * 4
    assert all("X-Twilio-Signature does not match" in a.body for a in answers)
    assert wired.told == []


async def test_signature_for_another_address_is_refused(wired: Wired) -> None:
    receipt = await wired.sms.send(page())
    url = PUBLIC + path("twilio", "sms", "status")
    form = {"MessageSid": receipt.message_id, "MessageStatus": "delivered"}

    elsewhere = await wired.twilio.post(
        url, form, signed_url="http://10.0.0.5:8080" + url.removeprefix(PUBLIC)
    )
    query_added = await wired.twilio.post(url + "?x=1", form, signed_url=url)

    assert (elsewhere.status, query_added.status) == (403, 403)
    assert wired.events.reports == []


async def test_missing_signature_is_refused(wired: Wired) -> None:
    url = PUBLIC + path("twilio", "sms", "inbound")
    answer = await wired.twilio.post(url, {"From": ALICE, "Body": "1"}, signed=False)
    assert answer.status == 403 and "X-Twilio-Signature is missing" in answer.body
    assert wired.told == []


async def test_body_over_the_limit_is_refused(wired: Wired) -> None:
    url = PUBLIC + path("twilio", "sms", "inbound")
    answer = await wired.twilio.post(url, {}, content=b"Body=" + b"1" * 70_000)
    assert answer.status == 413
    assert wired.told == []


async def test_only_post_is_taken(wired: Wired) -> None:
    app = wired.twilio.app
    assert app is not None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        answer = await client.get("http://tocsin.test" + path("twilio", "voice", "status"))
    assert (answer.status_code, answer.headers["allow"]) == (405, "POST")


async def test_database_unavailable_is_503_for_twilio_to_retry(wired: Wired) -> None:
    receipt = await wired.sms.send(page())
    wired.events.down = True

    status = await wired.twilio.deliver(receipt.message_id)
    reply = await wired.twilio.inbound(ALICE, "1")

    assert (status.status, reply.status) == (503, 503)
    assert wired.told == []


async def test_no_routes_without_the_auth_token(twilio_api: FakeTwilio) -> None:
    keyed = twilio(twilio_api.base_url, auth_token=None)
    keyed |= {"api_key_sid": "SK" + "0" * 32, "api_key_secret": "key-secret"}
    chains = create({"sms": keyed, "voice": keyed}, public_url=PUBLIC)
    assert callback_routes(chains, RecordingEvents()) == []


async def test_routes_follow_the_providers_name_and_settings(twilio_api: FakeTwilio) -> None:
    sms = twilio(twilio_api.base_url, name="twilio-us", replies=False)
    voice = twilio(twilio_api.base_url, auth_token=TWILIO_TOKEN, keypress=False)
    chains = create({"sms": sms, "voice": voice}, public_url=PUBLIC)
    routes = callback_routes(chains, RecordingEvents())
    assert sorted(getattr(route, "path", "") for route in routes) == [
        "/api/v1/pagers/twilio-us/sms/status",
        "/api/v1/pagers/twilio/voice/status",
    ]
