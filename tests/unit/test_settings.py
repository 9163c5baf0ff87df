"""Settings: interpolation, validation with key paths, the documented example, `tocsin check`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from bot.cli import main
from bot.errors import ConfigError
from bot.settings import Settings, load_settings, parse_settings
from bot.settings.durations import format_duration, parse_duration
from tests.support import EXAMPLE_ENV, base_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"


def problems_of(raw: Any, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, env=env or {})
    return caught.value.problems


def test_example_configuration_is_valid() -> None:
    settings = load_settings(EXAMPLE, env=EXAMPLE_ENV)
    assert settings.tocsin.language == "en" and settings.routes[0].name == "payments"


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        key = field.alias or name
        keys.add(key)
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys |= _keys(candidate)
            for inner in getattr(candidate, "__args__", ()):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    keys |= _keys(inner)
    return keys


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    documented = {
        line.split(":")[0].strip(" -")
        for line in text.splitlines()
        if ":" in line and not line.lstrip().startswith("#")
    }
    missing = sorted(_keys(Settings) - documented)
    assert missing == [], f"config/example.yaml does not document: {missing}"


def test_environment_interpolation() -> None:
    raw = base_config()
    raw["tocsin"]["secret_key"] = "${SECRET}"
    raw["database"] = {"url": "${DB_URL:-sqlite+aiosqlite:///x.db}"}
    settings = parse_settings(raw, env={"SECRET": "from-the-environment"})
    assert settings.tocsin.secret_key == "from-the-environment"
    assert settings.database.url == "sqlite+aiosqlite:///x.db"
    assert problems_of(raw) == [
        "tocsin.secret_key: environment variable SECRET is not set",
        "tocsin.secret_key: String should have at least 16 characters",
    ]


def test_every_problem_is_named_with_its_key_path() -> None:
    raw = base_config()
    raw["tocsin"]["colour"] = "red"
    raw["server"] = {"port": 70000}
    raw["routes"] = [{"matchers": ['severity=="x"'], "destinations": ["nochat"]}]
    raw["incidents"] = {"ack_timeout": "soon"}
    problems = problems_of(raw)
    assert any(p.startswith("tocsin.colour: unknown key") for p in problems)
    assert any(p.startswith("server.port:") for p in problems)
    assert any(p.startswith("routes.0.matchers:") and "not a matcher" in p for p in problems)
    assert any(p.startswith("routes.0.destinations.0:") and "platform:chat" in p for p in problems)
    assert any(p.startswith("incidents.ack_timeout:") and "not a duration" in p for p in problems)


def test_references_between_sections_are_checked() -> None:
    raw = base_config()
    raw["users"][0]["roles"] = ["wizard"]
    raw["services"]["orders"] = {"owner": "nobody", "environments": ["qa"]}
    raw["heartbeats"] = {"am-prod": {"interval": "1m", "watchdog": {"source": "nowhere"}}}
    raw["maintenance"] = {
        "windows": [{"name": "w", "environment": "qa", "start": "02:00", "end": "04:00"}]
    }
    problems = problems_of(raw)
    assert set(problems) >= {  # one problem a line, each naming its key
        "users.0.roles: unknown role 'wizard'",
        "services.orders.owner: unknown user 'nobody'",
        "services.orders.environments: unknown environment 'qa'",
        "heartbeats.am-prod.watchdog.source: no alertmanager source named 'nowhere'",
        "maintenance.windows.0.environment: unknown environment 'qa'",
    }


def test_bad_grant_is_reported() -> None:
    from bot.authz import Directory

    raw = base_config()
    raw["roles"]["viewer"] = {"grants": ["fly:orders:prod"]}
    with pytest.raises(ValueError, match="unknown action 'fly'"):
        Directory(parse_settings(raw, env={}))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("45", 45)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "m5", "1x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_check_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    assert main(["check", "--config", str(EXAMPLE)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    raw = base_config()
    raw["tocsin"]["secret_key"] = "short"
    raw["sources"][0]["kind"] = "nagios"
    bad.write_text(yaml.safe_dump(raw))
    assert main(["check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "tocsin.secret_key:" in err and "sources.0.kind:" in err
    (tmp_path / "broken.yaml").write_text("tocsin: [unclosed")
    assert main(["check", "--config", str(tmp_path / "broken.yaml")]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    assert main(["check", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("workers", "url", "cores", "expected"),
    [
        ("auto", "postgresql+asyncpg://tocsin@db/tocsin", 8, 4),
        ("auto", "postgresql+asyncpg://tocsin@db/tocsin", 2, 1),
        ("auto", "postgresql+asyncpg://tocsin@db/tocsin", 1, 1),
        (3, "postgresql+asyncpg://tocsin@db/tocsin", 8, 3),
        ("auto", "sqlite+aiosqlite:///tocsin.db", 8, 1),
        (4, "sqlite+aiosqlite:///tocsin.db", 8, 1),
    ],
)
def test_server_workers(workers: object, url: str, cores: int, expected: int) -> None:
    settings = parse_settings(base_config(server={"workers": workers}, database={"url": url}))
    assert settings.server_workers(cores) == expected
