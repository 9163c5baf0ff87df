"""Configuration errors people can act on: YAML syntax errors with the line, the column and a
hint; a duration without a unit refused with its key path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.errors import ConfigError
from bot.settings import load_settings
from bot.settings.durations import parse_setting
from bot.settings.loader import parse_settings
from tests.support import base_config

REPO = Path(__file__).resolve().parents[2]


def problems_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, env={})
    return info.value.problems


def load_problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    return info.value.problems


def test_a_tab_in_the_indentation_is_named_with_line_column_and_a_hint(tmp_path: Path) -> None:
    text = yaml.safe_dump(base_config()).replace("  secret_key", "\tsecret_key", 1)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("\t"))
    path = tmp_path / "tocsin.yaml"
    path.write_text(text)
    [problem] = load_problems(path)
    assert problem.startswith(f"{path}, line {line}, column 1: not valid YAML: ")
    assert problem.endswith("(YAML does not allow tabs for indentation; use spaces)")


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("a: b: c\n", "line 1, column 5", "a value holding ': ' needs quotes"),
        ("a: [1, 2\n", "line 2, column 1", "a bracket or brace is not closed"),
        ("a: 'open\n", "line 2, column 1", "a quote is not closed"),
    ],
)
def test_other_syntax_errors_say_where_and_what_to_check(
    tmp_path: Path, text: str, where: str, hint: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    [problem] = load_problems(path)
    assert problem.startswith(f"{path}, {where}: not valid YAML:") and problem.endswith(f"({hint})")


def test_a_file_that_is_not_utf8_is_said_so(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("tocsin: {language: 'é'}\n".encode("latin-1"))
    assert load_problems(path) == [f"{path}: not a UTF-8 text file"]


@pytest.mark.parametrize("delay", [10, "10", 2.5])
def test_a_duration_without_a_unit_is_refused_with_its_key_path(delay: object) -> None:
    raw = base_config(
        escalation_policies={"default": {"steps": [{"targets": ["user:alice"], "delay": delay}]}}
    )
    problems = problems_of(raw)
    assert f'escalation_policies.default.steps.0.delay: "{delay}" needs a unit, e.g. ' in (
        "\n".join(problems)
    )


def test_a_duration_with_a_unit_and_a_zero_are_taken() -> None:
    raw = base_config(
        escalation_policies={"default": {"steps": [{"targets": ["user:alice"], "delay": "90s"}]}},
        retention={"outbox": 0},
    )
    settings = parse_settings(raw, env={})
    assert settings.escalation_policies["default"].steps[0].delay == timedelta(seconds=90)
    assert parse_setting(0) == parse_setting("0") == timedelta(0)
    with pytest.raises(ValueError, match='"3600" needs a unit'):
        parse_setting(3600)


def test_the_example_configuration_has_units_on_every_duration() -> None:
    """Whatever else the example lacks (secrets come from the environment), no duration in it
    is refused for want of a unit."""
    try:
        load_settings(REPO / "config" / "example.yaml", env={})
    except ConfigError as exc:
        assert not [p for p in exc.problems if "needs a unit" in p]
