"""Twilio SMS (Messages.json) and voice (Calls.json with TwiML) against the fake REST API, which
checks HTTP Basic auth."""

from __future__ import annotations

from collections.abc import Callable
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

from adapters.notify.twilio import TWIML_LIMIT, say_twice
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import Notifier

Make = Callable[..., Notifier]
SERVICE_SID = "MG" + "00112233445566778899aabbccddeeff"


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
