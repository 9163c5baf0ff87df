"""The ``feishu:`` section: every problem named by its key path, secrets kept out of sight, and the
composition root picking the adapter up from the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.chat.feishu import FeishuAdapter, FeishuSettings, create, validate
from bot.bootstrap import bootstrap, check_adapters
from bot.clock import FakeClock
from bot.errors import ConfigError
from bot.replay import MemoryReplays
from bot.settings import parse_settings
from tests.support import EXAMPLE_ENV, base_config

EXAMPLE = Path(__file__).parents[3] / "config" / "example.yaml"
GOOD = {"app_id": "cli_a5fb0ae6a4000000", "app_secret": "s3cret-app"}
WEBHOOK = GOOD | {"mode": "webhook", "verification_token": "vt-secret", "encrypt_key": "ek-secret"}


def test_a_minimal_long_connection_section_is_valid() -> None:
    assert validate(GOOD) == []
    assert validate(WEBHOOK) == []


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({}, "app_id: required key is missing"),
        ({"app_secret": "x"}, "app_id: required key is missing"),
        (GOOD | {"app_id": "a5fb0ae6"}, "app_id: must be the app's App ID, starting with cli_"),
        (GOOD | {"app_secret": "  "}, "app_secret: must not be empty"),
        (GOOD | {"mode": "socket"}, "mode: Input should be 'long_connection' or 'webhook'"),
        (GOOD | {"mode": "webhook"}, "verification_token: required in webhook mode"),
        (GOOD | {"mode": "webhook", "verification_token": "v"}, "encrypt_key: required in webhook"),
        (GOOD | {"domain": "http://open.feishu.cn"}, "domain: must be feishu, lark, or an origin"),
        (GOOD | {"domain": "https://open.feishu.cn/open-apis"}, "domain: must be feishu, lark"),
        (GOOD | {"answer_within": "3s"}, "answer_within: must be between 100ms and 2800ms"),
        (GOOD | {"answer_within": "10ms"}, "answer_within: must be between"),
        (GOOD | {"replay_window": "2h"}, "replay_window: must be between 30s and 1h"),
        (GOOD | {"rate_per_second": 0}, "rate_per_second: Input should be greater than 0"),
        (GOOD | {"bot_names": ["to csin"]}, "bot_names: each name is one word"),
        (GOOD | {"timeout": "soon"}, "timeout: not a duration"),
        (GOOD | {"secret": "x"}, "secret: unknown key (check its spelling"),
        (["not", "a", "mapping"], "(section): must be a mapping of keys"),
    ],
)
def test_problems_are_named_by_their_key(raw: Any, problem: str) -> None:
    problems = validate(raw)
    assert any(p.startswith(problem) for p in problems), problems


def test_secrets_never_show() -> None:
    adapter = create(WEBHOOK, clock=FakeClock(), replays=MemoryReplays())
    shown = repr(adapter.settings) + str(adapter.settings.model_dump())
    for secret in ("s3cret-app", "vt-secret", "ek-secret"):
        assert secret not in shown


def test_bootstrap_checks_and_wires_the_section() -> None:
    raw = base_config(console={"enabled": False})
    raw["feishu"] = GOOD | {"mode": "webhook"}
    problems = check_adapters(parse_settings(raw, env={}))
    assert problems and problems[0].startswith("feishu.verification_token: required")
    with pytest.raises(ConfigError):
        bootstrap(parse_settings(raw, env={}))

    raw["feishu"] = WEBHOOK
    raw["users"][0]["identities"]["feishu"] = "ou_alice"
    tocsin = bootstrap(parse_settings(raw, env={}), clock=FakeClock())
    (adapter,) = [a for a in tocsin.adapters if isinstance(a, FeishuAdapter)]
    assert tocsin.platforms["feishu"] is adapter.platform
    assert adapter.platform.identities == {"alice": "ou_alice"}
    assert adapter.endpoint is not None, "webhook mode serves POST /feishu/events"


def test_the_example_section_is_valid() -> None:
    example = {"feishu": yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["feishu"]}
    assert set(example["feishu"]) == set(FeishuSettings.model_fields), "every key is documented"
    raw = base_config(console={"enabled": False}) | example
    assert check_adapters(parse_settings(raw, env=EXAMPLE_ENV)) == []
    secrets = EXAMPLE_ENV | {"FEISHU_VERIFICATION_TOKEN": "vt", "FEISHU_ENCRYPT_KEY": "ek"}
    raw["feishu"] = example["feishu"] | {"mode": "webhook"}
    assert check_adapters(parse_settings(raw, env=secrets)) == []
    problems = check_adapters(parse_settings(raw, env=EXAMPLE_ENV))
    assert [p.split(":")[0] for p in problems] == [
        "feishu.verification_token",
        "feishu.encrypt_key",
    ]
