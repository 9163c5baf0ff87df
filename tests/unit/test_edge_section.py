"""Settings sections: every problem named by its key path at once; secrets and bot names
checked the same way in every adapter."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from adapters.edge import section
from bot.errors import ConfigError


class Example(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    token: SecretStr
    secret: SecretStr | None = None
    bot_names: tuple[str, ...] = ("tocsin",)

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        return section.prefixed(value, "xoxb-", "the bot token")

    @field_validator("bot_names")
    @classmethod
    def _bot_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return section.bot_names(value)


def parse(raw: object) -> Example:
    return section.read(Example, raw)  # type: ignore[arg-type]


def test_a_good_section_reads_into_its_model() -> None:
    settings = parse({"token": "xoxb-1", "bot_names": [" @tocsin "]})
    assert settings.token.get_secret_value() == "xoxb-1" and settings.bot_names == ("tocsin",)


def test_every_problem_is_named_by_its_key_path() -> None:
    found = section.problems(parse, {"token": "xapp-1", "bot_names": ["two words"], "x": 1})
    assert [problem.split(" (")[0] for problem in found] == [
        "token: must be the bot token, starting with xoxb-",
        "bot_names: each name is one word, e.g. [tocsin]",
        "x: unknown key",
    ]


def test_a_section_that_is_not_a_mapping_is_one_problem() -> None:
    assert section.problems(parse, ["token"]) == ["(section): must be a mapping of keys"]  # type: ignore[arg-type]
    assert section.problems(parse, {"token": "xoxb-1"}) == []


def test_secrets_are_present_only_when_not_blank() -> None:
    assert section.present(None) == "" and section.present(SecretStr("  ")) == ""
    assert section.present(SecretStr(" s3cret ")) == "s3cret"
    assert section.filled(SecretStr("x")).get_secret_value() == "x"
    with pytest.raises(ValueError, match="must not be empty"):
        section.filled(SecretStr(" "))


def test_a_refused_secret_is_never_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"token": "hunter2-secret"})
    assert "hunter2" not in str(caught.value.problems)


def test_bot_names_may_allow_spaces_and_other_marks() -> None:
    assert section.bot_names(("＠值班 助手",), marks="@＠", one_word=False) == ("值班 助手",)
    with pytest.raises(ValueError, match="non-empty"):
        section.bot_names(("@",), marks="@", one_word=False)


def test_cross_key_problems_are_raised_together() -> None:
    settings = parse({"token": "xoxb-1"})
    assert section.checked(settings, []) is settings
    with pytest.raises(ConfigError) as caught:
        section.checked(settings, ["a: wrong", "b: wrong too"])
    assert caught.value.problems == ["a: wrong", "b: wrong too"]
