"""Aliyun SMS (SendSms) and voice (SingleCallByTts) against the fake RPC endpoint, which checks
every signature."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fake_aliyun import FakeAliyun
from notify_support import ALIYUN_SECRET, aliyun_sms, aliyun_voice, page

from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import Notifier

Make = Callable[..., Notifier]


async def test_sms_is_sent_signed_with_template_values(aliyun_api: FakeAliyun, make: Make) -> None:
    sms = make("sms", aliyun_sms(aliyun_api.base_url))
    receipt = await sms.send(page())

    [sent] = aliyun_api.actions("SendSms")
    assert receipt.provider == "aliyun" and receipt.status == "sent"
    assert receipt.message_id.endswith("^0") and receipt.message_id.startswith("9006")
    assert sent["PhoneNumbers"] == "13800138000"  # mainland: without +86
    assert sent["SignName"] == "托克辛"
    assert sent["TemplateCode"] == "SMS_123456"
    assert sent["OutId"] == "incident-42/step-1/alice/sms/1"
    assert sent["RegionId"] == "cn-hangzhou"
    assert json.loads(sent["TemplateParam"]) == {
        "id": "42",
        "title": "订单服务错误率过高 HighErrorRate",
        "svc": "orders",
    }


async def test_voice_call_is_sent_with_tts_template(aliyun_api: FakeAliyun, make: Make) -> None:
    voice = make("voice", aliyun_voice(aliyun_api.base_url, play_times=3))
    receipt = await voice.send(page("voice"))

    [sent] = aliyun_api.actions("SingleCallByTts")
    assert receipt.message_id.startswith("116012354148^")
    assert sent["CalledNumber"] == "13800138000"
    assert sent["CalledShowNumber"] == "057188773344"
    assert sent["TtsCode"] == "TTS_654321"
    assert sent["PlayTimes"] == "3"
    assert sent["OutId"] == "incident-42/step-1/alice/voice/1"
    assert json.loads(sent["TtsParam"]) == {
        "tier": "P0",
        "title": "订单服务错误率过高 HighErrorRate",
    }


async def test_numbers_outside_mainland_get_the_00_prefix(
    aliyun_api: FakeAliyun, make: Make
) -> None:
    sms = make("sms", aliyun_sms(aliyun_api.base_url))
    await sms.send(page(to="+852 6123 4567"))
    assert aliyun_api.actions("SendSms")[0]["PhoneNumbers"] == "0085261234567"


async def test_international_prefix_can_be_left_out(aliyun_api: FakeAliyun, make: Make) -> None:
    sms = make("sms", aliyun_sms(aliyun_api.base_url, international_prefix=""))
    await sms.send(page(to="+85261234567"))
    assert aliyun_api.actions("SendSms")[0]["PhoneNumbers"] == "85261234567"


async def test_long_template_values_are_shortened(aliyun_api: FakeAliyun, make: Make) -> None:
    sms = make("sms", aliyun_sms(aliyun_api.base_url, max_param_length=10))
    await sms.send(page(params={"id": "42", "title": "x" * 50, "service": "orders"}))
    values = json.loads(aliyun_api.actions("SendSms")[0]["TemplateParam"])
    assert values["title"] == "x" * 9 + "…"


async def test_every_request_has_a_fresh_nonce(aliyun_api: FakeAliyun, make: Make) -> None:
    sms = make("sms", aliyun_sms(aliyun_api.base_url))
    await sms.send(page())
    await sms.send(page())
    assert len(aliyun_api.sent) == 2
    assert len(aliyun_api.nonces) == 2


async def test_flow_control_is_retryable_after_a_minute(aliyun_api: FakeAliyun, make: Make) -> None:
    aliyun_api.fail("SendSms", "isv.BUSINESS_LIMIT_CONTROL")
    sms = make("sms", aliyun_sms(aliyun_api.base_url))
    with pytest.raises(RetryableDelivery) as caught:
        await sms.send(page())
    assert caught.value.retry_after == 60.0
    assert "isv.BUSINESS_LIMIT_CONTROL" in str(caught.value)


async def test_throttling_honours_retry_after(aliyun_api: FakeAliyun, make: Make) -> None:
    aliyun_api.fail("SingleCallByTts", "Throttling.User", status=400, retry_after=7)
    voice = make("voice", aliyun_voice(aliyun_api.base_url))
    with pytest.raises(RetryableDelivery) as caught:
        await voice.send(page("voice"))
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize("code", ["isp.SYSTEM_ERROR", "ServiceUnavailable", "InternalError"])
async def test_aliyun_side_failures_are_retryable(
    aliyun_api: FakeAliyun, make: Make, code: str
) -> None:
    aliyun_api.fail("SendSms", code, status=503 if code == "ServiceUnavailable" else 200)
    sms = make("sms", aliyun_sms(aliyun_api.base_url))
    with pytest.raises(RetryableDelivery):
        await sms.send(page())


async def test_gateway_error_without_json_is_retryable(aliyun_api: FakeAliyun, make: Make) -> None:
    aliyun_api.fail("SendSms", "", status=502, retry_after=3)
    sms = make("sms", aliyun_sms(aliyun_api.base_url))
    with pytest.raises(RetryableDelivery) as caught:
        await sms.send(page())
    assert caught.value.retry_after == 3.0
    assert "HTTP 502" in str(caught.value)


async def test_illegal_number_is_permanent(aliyun_api: FakeAliyun, make: Make) -> None:
    aliyun_api.fail("SendSms", "isv.MOBILE_NUMBER_ILLEGAL")
    sms = make("sms", aliyun_sms(aliyun_api.base_url))
    with pytest.raises(PermanentDelivery, match=r"isv\.MOBILE_NUMBER_ILLEGAL"):
        await sms.send(page())


async def test_number_that_is_not_e164_is_refused_before_sending(
    aliyun_api: FakeAliyun, make: Make
) -> None:
    sms = make("sms", aliyun_sms(aliyun_api.base_url))
    with pytest.raises(PermanentDelivery, match=r"E\.164"):
        await sms.send(page(to="alice@example.com"))
    assert aliyun_api.calls == []


async def test_unknown_template_is_permanent(aliyun_api: FakeAliyun, make: Make) -> None:
    sms = make("sms", aliyun_sms(aliyun_api.base_url, template_code="SMS_000000"))
    with pytest.raises(PermanentDelivery, match=r"isv\.SMS_TEMPLATE_ILLEGAL"):
        await sms.send(page())
    voice = make("voice", aliyun_voice(aliyun_api.base_url, tts_code="TTS_000000"))
    with pytest.raises(PermanentDelivery, match=r"isv\.TTS_TEMPLATE_ILLEGAL"):
        await voice.send(page("voice"))


async def test_wrong_secret_fails_the_signature_check_permanently(
    aliyun_api: FakeAliyun, make: Make
) -> None:
    sms = make("sms", aliyun_sms(aliyun_api.base_url, access_key_secret="not-the-secret"))
    with pytest.raises(PermanentDelivery) as caught:
        await sms.send(page())
    message = str(caught.value)
    assert "SignatureDoesNotMatch" in message
    assert "string to sign left out" in message and "POST&" not in message
    assert "not-the-secret" not in message and ALIYUN_SECRET not in message
    assert aliyun_api.sent == []


async def test_unknown_access_key_is_permanent(aliyun_api: FakeAliyun, make: Make) -> None:
    sms = make("sms", aliyun_sms(aliyun_api.base_url, access_key_id="LTAI-unknown"))
    with pytest.raises(PermanentDelivery, match=r"InvalidAccessKeyId\.NotFound"):
        await sms.send(page())


async def test_timeout_is_retryable(aliyun_api: FakeAliyun, make: Make) -> None:
    aliyun_api.hold("SendSms")
    sms = make("sms", aliyun_sms(aliyun_api.base_url, timeout="200ms"))
    with pytest.raises(RetryableDelivery, match="timed out"):
        await sms.send(page())


async def test_unreachable_endpoint_is_retryable(make: Make) -> None:
    sms = make("sms", aliyun_sms("http://127.0.0.1:9"))
    with pytest.raises(RetryableDelivery, match="ConnectError"):
        await sms.send(page())
