"""The ``pagers:`` section: problems named by their key paths, notifiers built per channel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from notify_support import (
    ALIYUN_SECRET,
    TWILIO_KEY_SID,
    aliyun_sms,
    aliyun_voice,
    tencent_sms,
    tencent_voice,
    twilio,
)

from adapters.notify import create, validate
from adapters.notify.aliyun import AliyunSms, AliyunVoice
from adapters.notify.email import EmailNotifier
from adapters.notify.settings import EmailSettings, parse
from adapters.notify.tencent import TencentSms, TencentVoice
from adapters.notify.twilio import TwilioSms, TwilioVoice
from bot.bootstrap import check_adapters
from bot.errors import ConfigError
from bot.settings import parse_settings
from tests.support import EXAMPLE_ENV, base_config

ROOT = Path(__file__).parents[3]
URL = "http://127.0.0.1:1"
EMAIL = {"host": "smtp.example.com", "sender": "Tocsin <tocsin@example.com>"}


def test_a_full_section_is_valid() -> None:
    raw = {
        "email": {**EMAIL, "port": 465, "security": "tls", "username": "u", "password": "p"},
        "sms": aliyun_sms(URL),
        "voice": tencent_voice(URL),
    }
    assert validate(raw) == []
    settings = parse(raw)
    assert settings.email is not None and len(settings.sms) == 1 and len(settings.voice) == 1


def test_missing_keys_are_named_by_channel() -> None:
    assert validate({"sms": {"provider": "aliyun"}}) == [
        "sms.access_key_id: required key is missing",
        "sms.access_key_secret: required key is missing",
        "sms.sign_name: required key is missing",
        "sms.template_code: required key is missing",
    ]


def test_keys_of_the_other_channel_are_unknown() -> None:
    problems = validate({"sms": {**aliyun_sms(URL), "tts_code": "TTS_1"}})
    assert problems == [
        "sms.tts_code: unknown key (check its spelling against config/example.yaml)"
    ]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"fax": {}}, "fax: unknown channel (use email, sms or voice)"),
        ({"sms": "aliyun"}, "sms: must be a mapping of keys"),
        (
            {"voice": {}},
            "voice.provider: required key is missing (aliyun, tencent, twilio, memory)",
        ),
        ({"sms": {"provider": "nexmo"}}, "sms.provider: unknown provider 'nexmo'"),
        ({"email": {**EMAIL, "security": "ssl"}}, "email.security: Input should be"),
        ({"email": {**EMAIL, "username": "u"}}, "email: username and password go together"),
        ({"email": {**EMAIL, "sender": "tocsin"}}, "email.sender: must be an e-mail address"),
        ({"email": {**EMAIL, "timeout": "soon"}}, "email.timeout: not a duration"),
        ({"sms": aliyun_sms("ftp://x")}, "sms.base_url: must be an http(s) URL"),
        (
            {"sms": {**aliyun_sms(URL), "template_params": {"t": "owner"}}},
            "sms.template_params.t: Input should be 'id', 'tier'",
        ),
        ({"voice": aliyun_voice(URL, play_times=5)}, "voice.play_times: Input should be less"),
        (
            {"sms": {**tencent_sms(URL), "template_params": ["id", "owner"]}},
            "sms.template_params.1: Input should be 'id'",
        ),
        ({"sms": twilio(URL, account_sid="AC123")}, "sms.account_sid: String should match"),
        (
            {"sms": twilio(URL, from_number=None)},
            "sms: set either from_number or messaging_service_sid",
        ),
        (
            {"sms": twilio(URL, auth_token=None)},
            "sms: set either auth_token or api_key_sid + api_key_secret",
        ),
        (
            {"voice": twilio(URL, api_key_sid=TWILIO_KEY_SID)},
            "voice: api_key_sid and api_key_secret go together",
        ),
        (
            {"voice": twilio(URL, messaging_service_sid="MG" + "0" * 32)},
            "voice.messaging_service_sid: unknown key",
        ),
    ],
)
def test_problems_are_worded_with_their_key_path(raw: dict[str, Any], problem: str) -> None:
    problems = validate(raw)
    assert any(p.startswith(problem) for p in problems), problems


def test_secrets_never_show_in_a_repr() -> None:
    settings = parse({"sms": aliyun_sms(URL)})
    assert ALIYUN_SECRET not in repr(settings)


def test_create_raises_config_error_with_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        create({"sms": {"provider": "tencent"}, "email": {}})
    assert "sms.secret_id: required key is missing" in caught.value.problems
    assert "email.host: required key is missing" in caught.value.problems


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ({"sms": aliyun_sms(URL)}, AliyunSms),
        ({"voice": aliyun_voice(URL)}, AliyunVoice),
        ({"sms": tencent_sms(URL)}, TencentSms),
        ({"voice": tencent_voice(URL)}, TencentVoice),
        ({"sms": twilio(URL)}, TwilioSms),
        ({"voice": twilio(URL)}, TwilioVoice),
        ({"email": EMAIL}, EmailNotifier),
    ],
)
async def test_create_builds_the_provider_for_each_channel(
    raw: dict[str, Any], kind: type[Any]
) -> None:
    [(channel, [provider])] = create(raw).items()
    notifier = provider.notifier
    assert isinstance(notifier, kind)
    assert notifier.channel == channel
    assert provider.name == notifier.provider  # named by its kind unless configured
    await notifier.aclose()


async def test_default_endpoints_are_the_providers() -> None:
    made = create({"sms": {k: v for k, v in tencent_sms(URL).items() if k != "base_url"}})
    sms = made["sms"][0].notifier
    assert isinstance(sms, TencentSms)
    assert str(sms.client.base_url) == "https://sms.tencentcloudapi.com"
    await sms.aclose()


def test_email_defaults() -> None:
    settings = parse({"email": EMAIL}).email
    assert isinstance(settings, EmailSettings)
    assert (settings.port, settings.security, settings.timeout.total_seconds()) == (
        587,
        "starttls",
        10,
    )


def test_importing_the_package_loads_no_provider_code() -> None:
    code = (
        "import sys, adapters.notify; "
        "print(sorted(m for m in sys.modules if m.startswith(('httpx', 'aiosmtplib', "
        "'adapters.notify.aliyun', 'adapters.notify.tencent', 'adapters.notify.twilio', "
        "'adapters.notify.email'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"


async def test_a_channel_lists_its_providers_in_failover_order() -> None:
    raw = {
        "sms": [
            {**aliyun_sms(URL), "prefixes": ["+86"], "confirm_within": "2m"},
            {**tencent_sms(URL), "confirm_within": "90s"},
            {**twilio(URL), "name": "twilio-us"},
        ]
    }
    assert validate(raw) == []
    chain = create(raw)["sms"]
    assert [p.name for p in chain] == ["aliyun", "tencent", "twilio-us"]
    assert [p.confirm_within.total_seconds() if p.confirm_within else None for p in chain] == [
        120,
        90,
        None,
    ]
    assert chain[0].takes("+8613800000001") and not chain[0].takes("+14155550100")
    assert chain[2].takes("+14155550100")
    for provider in chain:
        await provider.notifier.aclose()


def test_problems_in_a_list_are_named_by_position() -> None:
    raw = {
        "sms": [
            aliyun_sms(URL),
            {**aliyun_sms(URL), "prefixes": ["86"]},
            {"provider": "carrier-pigeon"},
        ],
        "voice": [],
    }
    assert validate(raw) == [
        "sms[1].prefixes: '86' is not an E.164 prefix such as '+86'",
        "sms[2].provider: unknown provider 'carrier-pigeon' (aliyun, tencent, twilio, memory)",
        "voice: list at least one provider, or leave it out",
    ]


def test_two_providers_of_one_kind_need_names() -> None:
    raw = {"sms": [aliyun_sms(URL), {**aliyun_sms(URL), "name": "aliyun-intl"}]}
    assert validate(raw) == []
    assert [p.label for p in parse(raw).sms] == ["aliyun", "aliyun-intl"]
    assert validate({"sms": [aliyun_sms(URL), aliyun_sms(URL)]}) == [
        "sms[1].name: 'aliyun' is already sms[0]'s name; give each of them its own"
    ]
    bad = validate({"sms": [aliyun_sms(URL), {**aliyun_sms(URL), "name": "Aliyun 2"}]})
    assert [p.split(":")[0] for p in bad] == ["sms[1].name"]


def test_a_persons_provider_choice_must_name_a_provider_of_that_channel() -> None:
    raw = base_config(pagers={"sms": [aliyun_sms(URL), twilio(URL)], "voice": twilio(URL)})
    raw["users"][0]["contact"] = {"phone": "+14155550100", "providers": {"sms": ["twilio"]}}
    assert check_adapters(parse_settings(raw, env=EXAMPLE_ENV)) == []
    raw["users"][0]["contact"]["providers"] = {"sms": ["twilio", "tencent"], "voice": ["aliyun"]}
    assert check_adapters(parse_settings(raw, env=EXAMPLE_ENV)) == [
        "users[0].contact.providers.sms: no sms provider named 'tencent' in pagers.sms "
        "(aliyun, twilio)",
        "users[0].contact.providers.voice: no voice provider named 'aliyun' in pagers.voice "
        "(twilio)",
    ]
