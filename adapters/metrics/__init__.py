"""Metrics sources, one module per kind, imported only when a source of that kind is set up.

The settings section is a mapping of kind to that kind's settings::

    metrics:
      prometheus: {url: http://prometheus:9090, timeout: 10s}

Each module offers `validate(raw)` (problems, worded ``key: message``) and `create(raw, name)`
→ a `bot.metrics_port.MetricsSource`. `memory` answers what a test set (see its docstring).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from bot.errors import ConfigError
from bot.metrics_port import MetricsSource

KINDS = {kind: f"adapters.metrics.{kind}" for kind in ("prometheus", "memory", "demo")}


def _module(kind: str) -> Any:
    return importlib.import_module(KINDS[kind])


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
