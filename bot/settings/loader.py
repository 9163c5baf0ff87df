"""Reading the YAML file: `${VAR}` / `${VAR:-default}` interpolation, then validation.

Every problem is reported with its key path, e.g. ``routes.0.destinations.1: …``; a YAML syntax
error with its line and column and, where one helps, a hint.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.errors import ConfigError
from bot.settings.schema import Settings
from bot.settings.yaml_errors import describe

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(node: Any, env: Mapping[str, str], path: str, problems: list[str]) -> Any:
    if isinstance(node, dict):
        return {
            k: _interpolate(v, env, f"{path}.{k}" if path else str(k), problems)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_interpolate(v, env, f"{path}.{i}", problems) for i, v in enumerate(node)]
    if isinstance(node, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append(f"{path}: environment variable {name} is not set")
            return ""

        return _VAR.sub(replace, node)
    return node


def format_error(err: Any, where: str = "(top level)") -> str:
    """One pydantic error as ``key.path: message`` (also used by the adapters' sections)."""
    loc = ".".join(str(part) for part in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (check its spelling against config/example.yaml)"
    elif err["type"] == "missing":
        msg = "required key is missing"
    if not loc and "\n" in msg:  # the cross-references, each naming its own key path
        return msg
    return f"{loc or where}: {msg}"


def parse_settings(raw: Any, env: Mapping[str, str] | None = None) -> Settings:
    """Validate an already-parsed YAML document. Raises `ConfigError` listing every problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(["(top level): the configuration must be a mapping of keys"])
    problems: list[str] = []
    data = _interpolate(raw, os.environ if env is None else env, "", problems)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            problems.extend(format_error(err).split("\n"))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return settings


def load_settings(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read the file ({exc.strerror or exc})"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{file}: not a UTF-8 text file"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([describe(file, text, exc)]) from None
    return parse_settings(raw, env)
