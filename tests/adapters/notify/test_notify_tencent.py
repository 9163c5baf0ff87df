"""Tencent Cloud SMS (SendSms) and voice (SendTtsVoice) against the fake API, which checks every
TC3-HMAC-SHA256 signature."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fake_tencent import FakeTencent
from notify_support import TENCENT_KEY, page, tencent_sms, tencent_voice

from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import Notifier

Make = Callable[..., Notifier]


async def test_sms_is_sent_signed_with_ordered_template_values(
    tencent_api: FakeTencent, make: Make
) -> None:
    sms = make("sms", tencent_sms(tencent_api.base_url))
    receipt = await sms.send(page())

    [body] = tencent_api.bodies("SendSms")
    assert receipt.provider == "tencent"
    assert receipt.message_id.startswith("5000:")
    assert body["PhoneNumberSet"] == ["+8613800138000"]
    assert body["SmsSdkAppId"] == "1400000001"
    assert body["SignName"] == "托克辛"
    assert body["TemplateId"] == "1000001"
    assert body["TemplateParamSet"] == ["42", "P0", "订单服务错误率过高 HighErrorRate"]
    assert body["SessionContext"] == "incident-42/step-1/alice/sms/1"
    headers = tencent_api.sent[0][2]
    assert headers["x-tc-region"] == "ap-guangzhou"
    assert headers["x-tc-version"] == "2021-01-11"


async def test_voice_is_sent_with_the_vms_scope(tencent_api: FakeTencent, make: Make) -> None:
    voice = make("voice", tencent_voice(tencent_api.base_url, play_times=3))
    receipt = await voice.send(page("voice"))

    [body] = tencent_api.bodies("SendTtsVoice")
    assert receipt.message_id.startswith("8b5bc5b7-")
    assert body["CalledNumber"] == "+8613800138000"
    assert body["VoiceSdkAppid"] == "1400000002"
    assert body["TemplateId"] == "2000002"
    assert body["TemplateParamSet"] == ["P0", "订单服务错误率过高 HighErrorRate"]
    assert body["PlayTimes"] == 3
    assert body["SessionContext"] == "incident-42/step-1/alice/voice/1"
    headers = tencent_api.sent[0][2]
    assert "/vms/tc3_request" in headers["authorization"]
    assert headers["x-tc-version"] == "2020-09-02"


async def test_numeric_ids_in_settings_are_sent_as_text(
    tencent_api: FakeTencent, make: Make
) -> None:
    sms = make("sms", tencent_sms(tencent_api.base_url, sdk_app_id=1400000001, template_id=1000001))
    await sms.send(page())
    body = tencent_api.bodies("SendSms")[0]
    assert body["SmsSdkAppId"] == "1400000001" and body["TemplateId"] == "1000001"


@pytest.mark.parametrize("code", ["RequestLimitExceeded", "InternalError.Timeout"])
async def test_throttling_and_internal_errors_are_retryable(
    tencent_api: FakeTencent, make: Make, code: str
) -> None:
    tencent_api.fail("SendSms", code)
    sms = make("sms", tencent_sms(tencent_api.base_url))
    with pytest.raises(RetryableDelivery, match=code):
        await sms.send(page())


async def test_http_429_honours_retry_after(tencent_api: FakeTencent, make: Make) -> None:
    tencent_api.fail("SendTtsVoice", status=429, retry_after=12)
    voice = make("voice", tencent_voice(tencent_api.base_url))
    with pytest.raises(RetryableDelivery) as caught:
        await voice.send(page("voice"))
    assert caught.value.retry_after == 12.0


async def test_http_5xx_is_retryable(tencent_api: FakeTencent, make: Make) -> None:
    tencent_api.fail("SendSms", status=503)
    sms = make("sms", tencent_sms(tencent_api.base_url))
    with pytest.raises(RetryableDelivery, match="HTTP 503"):
        await sms.send(page())


async def test_per_number_thirty_second_limit_waits(tencent_api: FakeTencent, make: Make) -> None:
    tencent_api.fail("SendSms", "LimitExceeded.PhoneNumberThirtySecondLimit", per_number=True)
    sms = make("sms", tencent_sms(tencent_api.base_url))
    with pytest.raises(RetryableDelivery) as caught:
        await sms.send(page())
    assert caught.value.retry_after == 30.0


async def test_per_number_daily_limit_is_permanent(tencent_api: FakeTencent, make: Make) -> None:
    tencent_api.fail("SendSms", "LimitExceeded.PhoneNumberDailyLimit", per_number=True)
    sms = make("sms", tencent_sms(tencent_api.base_url))
    with pytest.raises(PermanentDelivery, match="PhoneNumberDailyLimit"):
        await sms.send(page())


async def test_invalid_number_in_send_status_is_permanent(
    tencent_api: FakeTencent, make: Make
) -> None:
    sms = make("sms", tencent_sms(tencent_api.base_url))
    with pytest.raises(PermanentDelivery, match="IncorrectPhoneNumber"):
        await sms.send(page(to="+8613000000000"))
    assert tencent_api.sent == []


async def test_invalid_number_for_a_call_is_permanent(tencent_api: FakeTencent, make: Make) -> None:
    voice = make("voice", tencent_voice(tencent_api.base_url))
    with pytest.raises(PermanentDelivery, match=r"InvalidParameterValue\.IncorrectPhoneNumber"):
        await voice.send(page("voice", to="+8613000000000"))


@pytest.mark.parametrize(
    "code",
    ["FailedOperation.TemplateIncorrectOrUnapproved", "InvalidParameterValue.ContentLengthLimit"],
)
async def test_template_and_parameter_errors_are_permanent(
    tencent_api: FakeTencent, make: Make, code: str
) -> None:
    tencent_api.fail("SendSms", code)
    sms = make("sms", tencent_sms(tencent_api.base_url))
    with pytest.raises(PermanentDelivery, match=code):
        await sms.send(page())


async def test_wrong_secret_key_fails_the_signature_check(
    tencent_api: FakeTencent, make: Make
) -> None:
    sms = make("sms", tencent_sms(tencent_api.base_url, secret_key="not-the-key"))
    with pytest.raises(PermanentDelivery, match=r"AuthFailure\.SignatureFailure") as caught:
        await sms.send(page())
    assert "not-the-key" not in str(caught.value) and TENCENT_KEY not in str(caught.value)


async def test_unknown_secret_id_is_permanent(tencent_api: FakeTencent, make: Make) -> None:
    voice = make("voice", tencent_voice(tencent_api.base_url, secret_id="AKIDunknown"))
    with pytest.raises(PermanentDelivery, match=r"AuthFailure\.SecretIdNotFound"):
        await voice.send(page("voice"))


async def test_timeout_is_retryable(tencent_api: FakeTencent, make: Make) -> None:
    tencent_api.hold("SendTtsVoice")
    voice = make("voice", tencent_voice(tencent_api.base_url, timeout="200ms"))
    with pytest.raises(RetryableDelivery, match="timed out"):
        await voice.send(page("voice"))
