"""Reading an adapter's settings section, and the checks its secrets and names share.

Every adapter reads its own section into a frozen model once (`read`, then `checked` for the
checks that span keys); a problem is reported as ``"<key.path>: message"``, every problem at
once, so an operator fixes a file in one pass (`problems` gives them as a list for
``tocsin check``). Secrets are `SecretStr` and checked
without ever being shown: present and not blank (`present`, `filled`), or carrying the prefix
the platform gives that kind of credential (`prefixed`), so a token pasted into the wrong key
is caught at start-up, not at the first message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from bot.errors import ConfigError
from bot.settings.loader import format_error

Model = TypeVar("Model", bound=BaseModel)
WHERE = "(section)"
"""How a problem with the section as a whole is named."""


def read(model: type[Model], raw: Mapping[str, Any]) -> Model:
    """`raw` validated as `model`; `ConfigError` lists every problem with its key path."""
    if not isinstance(raw, Mapping):
        raise ConfigError([f"{WHERE}: must be a mapping of keys"])
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError([format_error(e, WHERE) for e in exc.errors()]) from None


def checked(settings: Model, found: list[str]) -> Model:
    """`settings`, or `ConfigError` with `found`: what the section's own cross-key checks
    (beyond its model's) found wrong."""
    if found:
        raise ConfigError(found)
    return settings


def problems(parse: Callable[[Mapping[str, Any]], object], raw: Mapping[str, Any]) -> list[str]:
    """What `parse` finds wrong with `raw`, each ``"<key.path>: message"``; empty when valid."""
    try:
        parse(raw)
    except ConfigError as exc:
        return exc.problems
    return []


def present(value: SecretStr | None) -> str:
    """A secret's text without surrounding spaces; empty when it is absent or blank."""
    return value.get_secret_value().strip() if value is not None else ""


def filled(value: SecretStr) -> SecretStr:
    """`value`, refused when blank (a field validator's body)."""
    if not present(value):
        raise ValueError("must not be empty")
    return value


def prefixed(value: SecretStr, prefix: str, what: str) -> SecretStr:
    """`value`, refused unless it starts with `prefix`: it is `what` (a field validator's body)."""
    if not value.get_secret_value().startswith(prefix):
        raise ValueError(f"must be {what}, starting with {prefix}")
    return value


def bot_names(
    value: tuple[str, ...], *, marks: str = "@", one_word: bool = True
) -> tuple[str, ...]:
    """The names people @-mention the bot by, without the leading `marks`; each non-empty and,
    where the platform's names cannot hold spaces, one word."""
    names = tuple(name.strip().lstrip(marks) for name in value)
    if one_word and any(not name or any(c.isspace() for c in name) for name in names):
        raise ValueError("each name is one word, e.g. [tocsin]")
    if any(not name for name in names):
        raise ValueError("each name is a non-empty word, e.g. [tocsin]")
    return names
