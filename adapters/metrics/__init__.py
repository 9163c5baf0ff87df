"""Metrics sources, one module per kind, imported only when a source of that kind is set up.

The settings section is a mapping of kind to that kind's settings::

    metrics:
      prometheus: {url: http://prometheus:9090, timeout: 10s}

Each module offers `validate(raw)` (problems, worded ``key: message``) and `create(raw, name)`
→ a `bot.ports.MetricsSource`. `memory` answers what a test set (see its docstring).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from bot.errors import ConfigError
from bot.ports import MetricsSource

KINDS = ("prometheus", "memory", "demo")


class Kind(NamedTuple):
    """A source module's entry points, typed: `adapters.conformance` has mypy check each
    module's against it (its `create` makes a `MetricsSource`)."""

    validate: Callable[[Any], list[str]]
    create: Callable[[Any, str], MetricsSource]


def _module(kind: str) -> Kind:
    """`kind`'s entry points, its module imported only now (checked against `Kind` in
    `adapters.conformance`)."""
    if kind not in KINDS:
        raise KeyError(kind)
    module = importlib.import_module(f"adapters.metrics.{kind}")
    return Kind(module.validate, module.create)


def validate(section: Mapping[str, Any], where: str = "metrics") -> list[str]:
    """Problems in the ``metrics`` section, each prefixed with `where` and the kind."""
    problems: list[str] = []
    for kind, raw in section.items():
        if kind not in KINDS:
            problems.append(f"{where}.{kind}: unknown metrics source (use {', '.join(KINDS)})")
            continue
        problems += [f"{where}.{kind}.{p}" for p in _module(kind).validate(raw)]
    return problems


def create(section: Mapping[str, Any], where: str = "metrics") -> dict[str, MetricsSource]:
    """One source per configured kind, named after it; raises `ConfigError` on a problem."""
    problems = validate(section, where)
    if problems:
        raise ConfigError(problems)
    return {kind: _module(kind).create(raw, kind) for kind, raw in section.items()}
