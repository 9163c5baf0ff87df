"""Unsafe configurations are refused outside demo mode, by `tocsin check` and by `tocsin run`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.cli import main
from bot.settings import parse_settings
from bot.settings.safety import MIN_SECRET_LENGTH, is_placeholder, review
from tests.support import EXAMPLE_ENV, base_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"

OLD_FALLBACKS = {
    # what config/example.yaml used to fall back to when a variable was not set
    "TOCSIN_SECRET_KEY": "change-me-to-a-long-random-secret",
    "ALERTMANAGER_TOKEN": "change-me",
    "GRAFANA_TOKEN": "change-me",
    "CI_WEBHOOK_SECRET": "change-me",
    "SENTRY_CLIENT_SECRET": "change-me",
    "BACKUP_HEARTBEAT_TOKEN": "change-me",
    "CONSOLE_TOKEN_ALICE": "change-me-alice",
    "CONSOLE_TOKEN_BOB": "change-me-bob",
    "SLACK_BOT_TOKEN": "xoxb-change-me",
    "SLACK_APP_TOKEN": "xapp-change-me",
    "SLACK_SIGNING_SECRET": "change-me",
    "DINGTALK_CLIENT_ID": "dingchangeme",
    "DINGTALK_CLIENT_SECRET": "change-me",
    "DINGTALK_OPS_ROBOT_WEBHOOK": "https://oapi.dingtalk.com/robot/send?access_token=change-me",
    "DINGTALK_OPS_ROBOT_SECRET": "SECchange-me",
    "WECOM_CORP_ID": "ww0000000000000000",
    "WECOM_APP_SECRET": "change-me",
    "WECOM_APP_TOKEN": "change-me",
    "WECOM_APP_AES_KEY": "0" * 43,
    "WECOM_AIBOT_TOKEN": "change-me",
    "WECOM_AIBOT_AES_KEY": "0" * 43,
    "WECOM_ROBOT_OPS": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=change-me",
    "FEISHU_APP_ID": "cli_change_me",
    "FEISHU_APP_SECRET": "change-me",
}

PLACEHOLDER_KEYS = [
    "tocsin.secret_key",
    "sources.0.auth.bearer_token",
    "sources.1.auth.bearer_token",
    "sources.2.auth.hmac_secret",
    "sources.3.auth.hmac_secret",
    "heartbeats.nightly-backup.auth.bearer_token",
    "console.tokens.alice",
    "console.tokens.bob",
    "slack.bot_token",
    "slack.app_token",
    "slack.signing_secret",
    "dingtalk.client_secret",
    "dingtalk.robots.ops.webhook",
    "dingtalk.robots.ops.secret",
    "wecom.app.secret",
    "wecom.app.token",
    "wecom.app.encoding_aes_key",
    "wecom.aibot.token",
    "wecom.aibot.encoding_aes_key",
    "wecom.robots.ops.webhook",
    "feishu.app_secret",
]


def tocsin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env={**_clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV}


def write(tmp_path: Path, raw: dict[str, Any], name: str = "tocsin.yaml") -> Path:
    raw.setdefault("database", {"url": f"sqlite+aiosqlite:///{tmp_path / 't.db'}"})
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check", "--config", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def problem_lines(err: str) -> list[str]:
    return [line.strip()[2:] for line in err.splitlines() if line.strip().startswith("- ")]


def test_the_example_has_no_usable_default_for_any_secret() -> None:
    result = tocsin("check", "--config", str(EXAMPLE))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for name in OLD_FALLBACKS:
        assert f"environment variable {name} is not set" in result.stderr
    assert "tocsin.secret_key: environment variable TOCSIN_SECRET_KEY" in result.stderr


def test_check_names_every_placeholder_of_the_example_with_its_key() -> None:
    result = tocsin("check", "--config", str(EXAMPLE), env=OLD_FALLBACKS)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    problems = problem_lines(result.stderr)
    for key in PLACEHOLDER_KEYS:
        assert any(p.startswith(f"{key}: is a placeholder") for p in problems), key
    # how to fix it, and never the secret itself
    assert (
        "tocsin.secret_key: is a placeholder, not a real secret; make one with `tocsin secret`"
        in result.stderr
    )
    assert "change-me" not in result.stderr


def test_the_example_with_real_values_passes() -> None:
    result = tocsin("check", "--config", str(EXAMPLE), env=EXAMPLE_ENV)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "warning" not in result.stderr


def test_run_refuses_to_start_with_the_example_placeholders(tmp_path: Path) -> None:
    # with the public example key Tocsin would sign action links anyone can forge: it must not
    # get as far as serving (or even touching the database)
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    raw["database"] = {"url": f"sqlite+aiosqlite:///{tmp_path / 't.db'}", "auto_migrate": True}
    raw["server"]["port"] = _free_port()
    config = write(tmp_path, raw)
    result = tocsin("run", "--config", str(config), env=OLD_FALLBACKS)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Tocsin will not start: unsafe settings" in result.stderr
    for key in PLACEHOLDER_KEYS:
        assert f"{key}: is a placeholder" in result.stderr, key
    assert not (tmp_path / "t.db").exists()


def test_run_refuses_a_short_secret_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = base_config()
    raw["tocsin"]["secret_key"] = "Zq8Kd3Lw7Vn2Rx5Tb4Hm6Yc"
    code = main(["run", "--config", str(write(tmp_path, raw))])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        f"tocsin.secret_key: too short (under {MIN_SECRET_LENGTH} characters); "
        "make one with `tocsin secret`" in err
    )
    assert "Zq8Kd3Lw7Vn2Rx5Tb4Hm6Yc" not in err


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("tocsin", "secret_key"), "Qw3Er5Ty7Ui9Op1As", "tocsin.secret_key: too short"),
        (("tocsin", "secret_key"), "ab12" * 10, "tocsin.secret_key: too easy to guess"),
        (("tocsin", "secret_key"), "x" * 40, "tocsin.secret_key: is a placeholder"),
        (("sources", 0, "auth", "bearer_token"), "token-123", "sources.0.auth.bearer_token: too"),
        (("sources", 2, "auth", "hmac_secret"), "0" * 8 + "1" * 30, "sources.2.auth.hmac_secret"),
        (("sources", 1, "auth", "bearer_token"), "change-me-please", "sources.1.auth.bearer_token"),
    ],
)
def test_weak_own_secrets_are_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    where: tuple[Any, ...],
    value: str,
    message: str,
) -> None:
    raw = base_config()
    node: Any = raw
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    code, _, err = check(write(tmp_path, raw), capsys)
    assert code == 2 and message in err
    assert value not in err


def test_console_tokens_are_own_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = base_config()
    raw["console"] = {"enabled": True, "auth": "token", "tokens": {"alice": "alice-123"}}
    code, _, err = check(write(tmp_path, raw), capsys)
    assert code == 2 and "console.tokens.alice: too short" in err


def test_demo_console_sign_in_is_refused_outside_demo_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = base_config()
    raw["console"] = {"enabled": True, "auth": "demo"}
    code, _, err = check(write(tmp_path, raw), capsys)
    assert code == 2
    assert "console.auth: `demo` lets anyone pick who they are; use `token`" in err


def test_platform_secrets_get_the_placeholder_rule_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = base_config()
    # a short token in the platform's own format is the platform's business...
    raw["wecom"] = {
        "aibot": {"token": "Tk8Rv3", "encoding_aes_key": EXAMPLE_ENV["WECOM_APP_AES_KEY"]}
    }
    code, _, err = check(write(tmp_path, raw), capsys)
    assert code == 0, err
    # ...a placeholder is not
    raw["wecom"]["aibot"]["token"] = "change-me"
    raw["slack"] = {"mode": "http", "bot_token": "xoxb-1-2-abc", "signing_secret": "CHANGEME"}
    code, _, err = check(write(tmp_path, raw, "again.yaml"), capsys)
    assert code == 2
    assert problem_lines(err) == [
        "slack.signing_secret: is a placeholder, not a real secret; set the value the platform "
        "or provider gave you, through an environment variable",
        "wecom.aibot.token: is a placeholder, not a real secret; set the value the platform or "
        "provider gave you, through an environment variable",
    ]


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://tocsin.example.com", True),
        ("http://10.0.0.5:8080", True),
        ("https://tocsin.example.com", False),
        ("http://127.0.0.1:8080", False),
        ("http://localhost:8080", False),
        ("http://[::1]:8080", False),
    ],
)
def test_a_plain_http_public_url_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, warned: bool
) -> None:
    raw = base_config()
    raw["tocsin"]["public_url"] = url
    code, out, err = check(write(tmp_path, raw), capsys)
    assert code == 0 and "OK" in out
    assert ("warning: tocsin.public_url: not https" in err) is warned


def test_demo_mode_accepts_all_of_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = base_config()
    raw["tocsin"] |= {"demo": True, "secret_key": "change-me-to-a-long-random-secret"}
    raw["tocsin"]["public_url"] = "http://tocsin.test"
    raw["sources"][0]["auth"]["bearer_token"] = "change-me"
    raw["console"] = {"enabled": True, "auth": "demo", "tokens": {"alice": "change-me-alice"}}
    code, out, err = check(write(tmp_path, raw), capsys)
    assert code == 0 and "OK" in out and err == ""


def test_demo_mode_starts_for_real(tmp_path: Path) -> None:
    raw = base_config()
    raw["tocsin"] |= {"demo": True, "secret_key": "change-me-to-a-long-random-secret"}
    raw["sources"][0]["auth"]["bearer_token"] = "change-me"
    raw["console"] = {"enabled": True, "auth": "demo"}
    raw["database"] = {"url": f"sqlite+aiosqlite:///{tmp_path / 't.db'}", "auto_migrate": True}
    port = _free_port()
    raw["server"] = {"host": "127.0.0.1", "port": port}
    config = write(tmp_path, raw)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        cwd=ROOT,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Tocsin did not get ready"
            time.sleep(0.2)
    finally:
        process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def test_tocsin_secret_prints_a_value_that_passes(tmp_path: Path) -> None:
    made = []
    for _ in range(4):
        result = tocsin("secret")
        assert result.returncode == 0
        value = result.stdout.strip()
        assert "\n" not in value and len(value) >= MIN_SECRET_LENGTH
        assert "TOCSIN_SECRET_KEY" in result.stderr  # where to put it
        made.append(value)
    assert len(set(made)) == 4
    raw = base_config()
    raw["tocsin"]["secret_key"] = "${TOCSIN_SECRET_KEY}"
    raw["tocsin"]["public_url"] = "https://tocsin.example.com"
    raw["sources"] = [{"name": "am", "kind": "alertmanager", "auth": {"bearer_token": made[1]}}]
    raw["console"] = {"enabled": True, "auth": "token", "tokens": {"alice": made[2]}}
    raw["sources"].append({"name": "ci", "kind": "generic", "auth": {"hmac_secret": made[3]}})
    config = write(tmp_path, raw)
    result = tocsin("check", "--config", str(config), env={"TOCSIN_SECRET_KEY": made[0]})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("change-me", True),
        ("Change-Me-Alice", True),
        ("xoxb-change-me", True),
        ("SECchange-me", True),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=change-me", True),
        ("0" * 43, True),
        ("secret", True),
        ("", False),
        ("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", False),
        ("xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy", False),
    ],
)
def test_placeholders(value: str, expected: bool) -> None:
    assert is_placeholder(value) is expected


def test_review_is_empty_for_the_demo_settings(tmp_path: Path) -> None:
    from bot.demo import demo_settings

    settings = demo_settings(tmp_path, "127.0.0.1", 8080)
    assert settings.tocsin.demo and settings.console.auth == "demo"
    assert review(settings).problems == () and review(settings).warnings == ()
    production = parse_settings(base_config(), env={})
    assert review(production).problems == ()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_audit_key_is_an_own_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.settings import Settings

    if "audit" not in Settings.model_fields:
        pytest.skip("no audit section in this version")
    raw = base_config()
    raw["audit"] = {
        "key": "Hq2Vx7Lk9Rd4Wt8N",
        "previous_keys": ["change-me-to-a-long-random-secret"],
    }
    code, _, err = check(write(tmp_path, raw), capsys)
    assert code == 2
    assert "audit.key: too short" in err and "audit.previous_keys.0: is a placeholder" in err
