"""Twilio SMS (Messages.json) and voice (Calls.json with TwiML) against the fake REST API, which
checks HTTP Basic auth; with a public URL, sends ask for their status callbacks, an SMS ends with
its reply prompt and a call takes a key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from xml.etree import ElementTree

import pytest
from fake_twilio import INVALID, NOT_MOBILE, FakeTwilio
from notify_support import (
    TWILIO_KEY_SECRET,
    TWILIO_KEY_SID,
    TWILIO_SID,
    TWILIO_TOKEN,
    page,
    twilio,
)

from adapters.notify import create, validate
from adapters.notify.twilio import BODY_LIMIT, TWIML_LIMIT, say_twice
from bot.clock import FakeClock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import Notifier

Make = Callable[..., Notifier]
SERVICE_SID = "MG" + "00112233445566778899aabbccddeeff"
PUBLIC = "https://tocsin.example"
PROMPT_EN = "Reply 1 to acknowledge #42, 2 to escalate (1KQD / 2KQD for this page)"
PROMPT_ZH = "回复 1 确认 #42，回复 2 升级（本条：1KQD / 2KQD）"
KEYS_ZH = "确认请按 1，升级请按 2。"


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    """``make(channel, section, public_url="")``: the channel's first provider's notifier, as
    `create` builds it; closed after."""
    made: list[Notifier] = []

    def build(channel: str, section: dict[str, Any], public_url: str = "") -> Notifier:
        [provider] = create({channel: section}, clock=FakeClock(), public_url=public_url)[channel]
        made.append(provider.notifier)
        return provider.notifier

    yield build
    for notifier in made:
        await notifier.aclose()


def says_in(twiml: str) -> list[ElementTree.Element]:
    """The <Say> elements of TwiML the adapter made (no DTD, nothing external)."""
    return ElementTree.fromstring(twiml).findall("Say")  # noqa: S314


async def test_sms_is_sent_from_the_number(twilio_api: FakeTwilio, make: Make) -> None:
    sms = make("sms", twilio(twilio_api.base_url))
    receipt = await sms.send(page(lang="en", text="P0 #42 HighErrorRate orders/prod"))

    [form] = twilio_api.forms("Messages")
    assert form == {
        "To": "+8613800138000",
        "From": "+15005550006",
        "Body": "P0 #42 HighErrorRate orders/prod",
    }
    assert receipt.provider == "twilio"
    assert receipt.message_id.startswith("SM") and len(receipt.message_id) == 34
    assert receipt.status == "queued"
    assert twilio_api.logins == [TWILIO_SID]


async def test_sms_through_a_messaging_service_with_an_api_key(
    twilio_api: FakeTwilio, make: Make
) -> None:
    section = twilio(
        twilio_api.base_url,
        from_number=None,
        messaging_service_sid=SERVICE_SID,
        auth_token=None,
        api_key_sid=TWILIO_KEY_SID,
        api_key_secret=TWILIO_KEY_SECRET,
    )
    receipt = await make("sms", section).send(page())

    [form] = twilio_api.forms("Messages")
    assert form["MessagingServiceSid"] == SERVICE_SID and "From" not in form
    assert form["Body"] == page().text  # Chinese survives the form encoding
    assert receipt.status == "accepted"
    assert twilio_api.logins == [TWILIO_KEY_SID]


async def test_call_says_the_message_twice_in_mandarin(twilio_api: FakeTwilio, make: Make) -> None:
    voice = make("voice", twilio(twilio_api.base_url))
    receipt = await voice.send(page("voice"))

    [form] = twilio_api.forms("Calls")
    assert receipt.message_id.startswith("CA")
    assert form["To"] == "+8613800138000" and form["From"] == "+15005550006"
    says = says_in(form["Twiml"])
    assert len(says) == 2
    assert {say.get("language") for say in says} == {"cmn-CN"}
    assert {say.get("voice") for say in says} == {"Polly.Zhiyu"}
    assert [say.text for say in says] == [page().text] * 2


async def test_call_in_english_uses_the_configured_voice(
    twilio_api: FakeTwilio, make: Make
) -> None:
    voice = make("voice", twilio(twilio_api.base_url, voices={"en": "Google.en-US-Standard-C"}))
    await voice.send(page("voice", lang="en", text="Incident <42> & friends"))

    says = says_in(twilio_api.forms("Calls")[0]["Twiml"])
    assert {say.get("language") for say in says} == {"en-US"}
    assert {say.get("voice") for say in says} == {"Google.en-US-Standard-C"}
    assert says[0].text == "Incident <42> & friends"  # escaped in XML, read back intact


def test_twiml_is_shortened_to_twilios_limit() -> None:
    twiml = say_twice("告警 & 事故 " * 2000, "cmn-CN", "Polly.Zhiyu")
    assert len(twiml) <= TWIML_LIMIT
    says = says_in(twiml)
    assert len(says) == 2 and says[0].text == says[1].text


async def test_rate_limit_is_retryable_with_retry_after(twilio_api: FakeTwilio, make: Make) -> None:
    twilio_api.fail("Messages", status=429, code=20429, retry_after=5)
    sms = make("sms", twilio(twilio_api.base_url))
    with pytest.raises(RetryableDelivery) as caught:
        await sms.send(page())
    assert caught.value.retry_after == 5.0
    assert "20429" in str(caught.value)


async def test_server_error_is_retryable(twilio_api: FakeTwilio, make: Make) -> None:
    twilio_api.fail("Calls", status=503)
    voice = make("voice", twilio(twilio_api.base_url))
    with pytest.raises(RetryableDelivery, match="HTTP 503"):
        await voice.send(page("voice"))


@pytest.mark.parametrize(("number", "code"), [(INVALID, "21211"), (NOT_MOBILE, "21614")])
async def test_invalid_numbers_are_permanent(
    twilio_api: FakeTwilio, make: Make, number: str, code: str
) -> None:
    sms = make("sms", twilio(twilio_api.base_url))
    with pytest.raises(PermanentDelivery, match=f"error {code}"):
        await sms.send(page(to=number))
    assert twilio_api.sent == []


async def test_bad_credentials_are_permanent(twilio_api: FakeTwilio, make: Make) -> None:
    voice = make("voice", twilio(twilio_api.base_url, auth_token="wrong-token"))
    with pytest.raises(PermanentDelivery, match="HTTP 401") as caught:
        await voice.send(page("voice"))
    assert "wrong-token" not in str(caught.value) and TWILIO_TOKEN not in str(caught.value)


async def test_timeout_is_retryable(twilio_api: FakeTwilio, make: Make) -> None:
    twilio_api.hold("Messages")
    sms = make("sms", twilio(twilio_api.base_url, timeout="200ms"))
    with pytest.raises(RetryableDelivery, match="timed out"):
        await sms.send(page())


async def test_sms_asks_for_its_status_callback_and_ends_with_the_prompt(
    twilio_api: FakeTwilio, make: Make
) -> None:
    sms = make("sms", twilio(twilio_api.base_url, name="twilio-us"), PUBLIC)
    await sms.send(page(lang="en", text="P0 #42 HighErrorRate orders/prod", prompt=PROMPT_EN))

    [form] = twilio_api.forms("Messages")
    assert form["StatusCallback"] == f"{PUBLIC}/api/v1/pagers/twilio-us/sms/status"
    assert form["Body"] == f"P0 #42 HighErrorRate orders/prod {PROMPT_EN}"


async def test_a_prompt_already_ending_the_text_is_not_repeated(
    twilio_api: FakeTwilio, make: Make
) -> None:
    sms = make("sms", twilio(twilio_api.base_url), PUBLIC)
    await sms.send(page(text=f"{page().text}\n{PROMPT_ZH}", prompt=PROMPT_ZH))

    assert twilio_api.forms("Messages")[0]["Body"] == f"{page().text} {PROMPT_ZH}"


async def test_a_long_text_is_shortened_and_the_prompt_kept(
    twilio_api: FakeTwilio, make: Make
) -> None:
    sms = make("sms", twilio(twilio_api.base_url), PUBLIC)
    await sms.send(page(text="告警 " * 1000, prompt=PROMPT_ZH))

    body = twilio_api.forms("Messages")[0]["Body"]
    assert len(body) == BODY_LIMIT
    assert body.endswith(f"… {PROMPT_ZH}")


@pytest.mark.parametrize(
    ("public_url", "overrides"),
    [
        ("", {}),
        (PUBLIC, {"replies": False}),
        (
            PUBLIC,
            {
                "auth_token": None,
                "api_key_sid": TWILIO_KEY_SID,
                "api_key_secret": TWILIO_KEY_SECRET,
            },
        ),
    ],
    ids=["no public url", "replies off", "api key without auth token"],
)
async def test_no_prompt_without_replies(
    twilio_api: FakeTwilio, make: Make, public_url: str, overrides: dict[str, Any]
) -> None:
    sms = make("sms", twilio(twilio_api.base_url, **overrides), public_url)
    await sms.send(page(prompt=PROMPT_ZH))

    [form] = twilio_api.forms("Messages")
    assert form["Body"] == page().text
    assert ("StatusCallback" in form) == ("auth_token" not in overrides and bool(public_url))


async def test_call_reads_the_prompt_inside_a_gather(twilio_api: FakeTwilio, make: Make) -> None:
    voice = make("voice", twilio(twilio_api.base_url), PUBLIC)
    await voice.send(page("voice", prompt=KEYS_ZH))

    [form] = twilio_api.forms("Calls")
    assert form["StatusCallback"] == f"{PUBLIC}/api/v1/pagers/twilio/voice/status"
    assert form["StatusCallbackEvent"] == "completed"
    assert form["StatusCallbackMethod"] == "POST"
    root = ElementTree.fromstring(form["Twiml"])  # noqa: S314 — the adapter's own TwiML
    gather = root.find("Gather")
    assert gather is not None
    assert gather.attrib == {
        "input": "dtmf",
        "numDigits": "1",
        "timeout": "8",
        "action": f"{PUBLIC}/api/v1/pagers/twilio/voice/gather?lang=zh",
        "method": "POST",
    }
    assert [say.text for say in gather.findall("Say")] == [page().text, KEYS_ZH]
    assert [say.text for say in root.findall("Say")] == [page().text]  # when no key came
    assert {say.get("language") for say in root.iter("Say")} == {"cmn-CN"}


async def test_call_without_keypress_reads_the_page_twice(
    twilio_api: FakeTwilio, make: Make
) -> None:
    voice = make("voice", twilio(twilio_api.base_url, keypress=False), PUBLIC)
    await voice.send(page("voice", prompt=KEYS_ZH))

    [form] = twilio_api.forms("Calls")
    assert "StatusCallback" in form
    assert [say.text for say in says_in(form["Twiml"])] == [page().text] * 2


async def test_gather_twiml_is_shortened_keeping_the_prompt(
    twilio_api: FakeTwilio, make: Make
) -> None:
    voice = make("voice", twilio(twilio_api.base_url), PUBLIC)
    await voice.send(page("voice", text="告警 & 事故 " * 2000, prompt=KEYS_ZH))

    twiml = twilio_api.forms("Calls")[0]["Twiml"]
    assert len(twiml) <= TWIML_LIMIT
    gather = ElementTree.fromstring(twiml).find("Gather")  # noqa: S314
    assert gather is not None and gather.findall("Say")[1].text == KEYS_ZH


def test_an_api_key_and_the_auth_token_go_together() -> None:
    keyed = twilio("https://api.example", api_key_sid=TWILIO_KEY_SID)
    keyed["api_key_secret"] = TWILIO_KEY_SECRET
    assert validate({"sms": keyed}) == []  # the key logs in, the token checks callbacks


@pytest.mark.parametrize(
    ("channel", "setting", "problem"),
    [
        ("sms", {"replies": True}, "sms: replies needs auth_token"),
        ("voice", {"keypress": True}, "voice: keypress needs auth_token"),
        ("sms", {"confirm_within": "2m"}, "sms: confirm_within needs auth_token"),
    ],
)
def test_what_needs_callbacks_needs_the_auth_token(
    channel: str, setting: dict[str, Any], problem: str
) -> None:
    keyed = twilio(
        "https://api.example",
        auth_token=None,
        api_key_sid=TWILIO_KEY_SID,
        api_key_secret=TWILIO_KEY_SECRET,
    )
    assert validate({channel: keyed}) == []  # as before: sends, without callbacks
    problems = validate({channel: {**keyed, **setting}})
    assert any(p.startswith(problem) for p in problems), problems
