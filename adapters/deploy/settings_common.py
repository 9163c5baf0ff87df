"""What the deploy backends' settings share: a few field checks, the
problems of a section worded ``key: message``, and each backend module's entry points.

Every backend module offers `validate(raw)`, `validate_target(raw)` and `create(name, raw,
clock=…)` (see `adapters.deploy`); `entry_points` makes the three from the backend's settings
model, target model and class. Problems are worded by `bot.settings.loader.format_error`; with
``section=True`` (helm, kubernetes) a problem of the whole section is ``(section): …`` and a
section that is not a mapping says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from bot.clock import Clock
from bot.errors import ConfigError, PermanentDelivery
from bot.settings.loader import format_error

M = TypeVar("M", bound=BaseModel)
S_contra = TypeVar("S_contra", bound=BaseModel, contravariant=True)
B_co = TypeVar("B_co", covariant=True)
B = TypeVar("B")
SECTION = "(section)"

Validate = Callable[[dict[str, Any]], list[str]]


class Create(Protocol[B_co]):
    def __call__(self, name: str, raw: dict[str, Any], *, clock: Clock) -> B_co: ...


class _Backend(Protocol[S_contra, B_co]):
    def __call__(self, name: str, settings: S_contra, *, clock: Clock) -> B_co: ...


# -- field checks (for `field_validator`) ----------------------------------------------------


def http_url(value: str) -> str:
    """An ``http(s)://`` URL, without a trailing ``/``."""
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return value.rstrip("/")


def positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


def as_strings(value: Mapping[Any, Any]) -> dict[str, Any]:
    """Keys as text, and number and boolean values as text (``true`` / ``false``); any other
    value is left as it is, for the field's type to refuse."""
    return {str(k): v if isinstance(v, str) else _text(v) for k, v in value.items()}


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


# -- validating -------------------------------------------------------------------------------


def problems(model: type[BaseModel], raw: Any, *, section: bool = False) -> list[str]:
    """`raw` checked against `model`, each problem worded ``key: message`` (empty when valid)."""
    if section and not isinstance(raw, Mapping):
        return [f"{SECTION}: must be a mapping of keys"]
    try:
        model.model_validate(raw)
    except ValidationError as exc:
        if section:
            return [format_error(err, SECTION) for err in exc.errors()]
        return [format_error(err) for err in exc.errors()]
    return []


def parse_settings(model: type[M], raw: Any, *, section: bool = False) -> M:
    """A backend's settings; its problems as `ConfigError`."""
    found = problems(model, raw, section=section)
    if found:
        raise ConfigError(found)
    return model.model_validate(raw)


def parse_target(model: type[M], raw: Any, label: str, *, section: bool = False) -> M:
    """A service's target; its problems (checked at startup already) as `PermanentDelivery`,
    ``<label>: key: message; …``."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        found = "; ".join(problems(model, raw, section=section))
        # helm and kubernetes have always kept the pydantic error as the cause; the rest not
        raise PermanentDelivery(f"{label}: {found}") from (exc if section else None)


def entry_points(
    settings: type[M],
    target: type[BaseModel],
    backend: _Backend[M, B],
    *,
    section: bool = False,
) -> tuple[Validate, Validate, Create[B]]:
    """A backend module's `validate`, `validate_target` and `create`."""

    def validate(raw: dict[str, Any]) -> list[str]:
        return problems(settings, raw, section=section)

    def validate_target(raw: dict[str, Any]) -> list[str]:
        return problems(target, raw, section=section)

    def create(name: str, raw: dict[str, Any], *, clock: Clock) -> B:
        return backend(name, parse_settings(settings, raw, section=section), clock=clock)

    return validate, validate_target, create
