"""Deploy backends, one module per kind, imported only when a backend of that kind is configured.

Each module offers `validate(raw)` and `validate_target(raw)` (problems, worded "key: message")
and `create(name, raw, clock=…)` → a `bot.ports.DeployBackend`. `memory` keeps runs in
memory (tests, trying things out); `fake` stands in for the whole deploy service in tests.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

from adapters.deploy.settings_common import Create, Validate
from bot.clock import Clock
from bot.errors import ConfigError
from bot.ports import DeployBackend
from bot.settings import Settings

KINDS = (
    "kubernetes",
    "helm",
    "argocd",
    "gitlab",
    "jenkins",
    "github",
    "shell",
    "webhook",
    "memory",
)


class Kind(NamedTuple):
    """A backend module's entry points, typed: `adapters.conformance` has mypy check each
    module's against it (its `create` makes a `DeployBackend`)."""

    validate: Validate
    validate_target: Validate
    create: Create[DeployBackend]


def _module(kind: str) -> Kind:
    """`kind`'s entry points, its module imported only now, so that a backend's client library
    (the kubernetes package) is loaded only when a backend of that kind is configured. Each
    module's entry points are checked against `Kind` in `adapters.conformance`."""
    if kind not in KINDS:
        raise KeyError(kind)
    module = importlib.import_module(f"adapters.deploy.{kind}")
    return Kind(module.validate, module.validate_target, module.create)


def validate(settings: Settings) -> list[str]:
    """Problems in `deploy.backends` and in the services' deploy targets."""
    problems: list[str] = []
    kinds: dict[str, str] = {}
    for name, raw in settings.deploy.backends.items():
        kind = str(raw.get("kind", ""))
        if kind not in KINDS:
            problems.append(
                f"deploy.backends.{name}.kind: must be one of {', '.join(KINDS)} (got {kind!r})"
            )
            continue
        kinds[name] = kind
        try:
            module = _module(kind)
        except ModuleNotFoundError as exc:
            problems.append(
                f"deploy.backends.{name}: the {kind} backend needs its extra: "
                f"pip install 'tocsin[{kind}]' (missing module {exc.name})"
            )
            continue
        rest = {k: v for k, v in raw.items() if k != "kind"}
        problems += [f"deploy.backends.{name}.{p}" for p in module.validate(rest)]
    for service, spec in settings.services.items():
        for env, target in spec.deploy.items():
            target_kind = kinds.get(str(target.get("backend")))
            if target_kind is None:
                continue
            rest = {k: v for k, v in target.items() if k != "backend"}
            problems += [
                f"services.{service}.deploy.{env}.{p}"
                for p in _module(target_kind).validate_target(rest)
            ]
    return problems


def create(settings: Settings, *, clock: Clock) -> dict[str, DeployBackend]:
    problems = validate(settings)
    if problems:
        raise ConfigError(problems)
    made: dict[str, DeployBackend] = {}
    for name, raw in settings.deploy.backends.items():
        rest = {k: v for k, v in raw.items() if k != "kind"}
        made[name] = _module(str(raw["kind"])).create(name, rest, clock=clock)
    return made
