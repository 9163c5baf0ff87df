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


INCLUDABLE = ("users", "groups", "schedules", "escalation_policies", "routes")
"""What an included file may hold: the on-call people and structure a tool writes (e.g.
`tocsin import --apply`), kept apart from the hand-written file."""


def load_settings(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    return parse_settings(load_document(path), env)


def read_yaml(file: Path) -> Any:
    """One YAML file's document; unreadable files and syntax errors as `ConfigError`."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read the file ({exc.strerror or exc})"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{file}: not a UTF-8 text file"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([describe(file, text, exc)]) from None


def load_document(path: str | Path, *, leave_out: Path | None = None) -> Any:
    """The configuration's document with its `include:` files merged in (all but `leave_out`).

    ``include: [oncall-import.yaml]`` names files (relative to the including one) that add
    to `INCLUDABLE` sections: a mapping's keys must be new (a name defined twice is an error,
    never an overwrite) and a list's items come after the main file's."""
    file = Path(path)
    raw = read_yaml(file)
    if not isinstance(raw, dict) or "include" not in raw:
        return raw
    raw = dict(raw)
    names = raw.pop("include")
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(["include: a list of file names, e.g. [oncall-import.yaml]"])
    problems: list[str] = []
    for index, name in enumerate(names):
        part = (file.parent / name).resolve()
        if leave_out is not None and part == leave_out.resolve():
            continue
        problems += merge_part(raw, part, read_yaml(part), f"include.{index}", file.name)
    if problems:
        raise ConfigError(problems)
    return raw


def merge_part(raw: dict[str, Any], part: Path, doc: Any, where: str, main: str) -> list[str]:
    if doc is None:
        return []
    if not isinstance(doc, dict):
        return [f"{where}: {part.name} must be a mapping of sections"]
    problems = []
    for section, value in doc.items():
        if section not in INCLUDABLE:
            problems.append(
                f"{where}: {part.name}: {section!r} cannot be included "
                f"(an included file holds only {', '.join(INCLUDABLE)})"
            )
            continue
        if value is None:
            continue
        mine = raw.get(section)
        if isinstance(value, dict) and isinstance(mine, dict | None):
            taken = sorted(set(value) & set(mine or {}))
            problems += [
                f"{where}: {part.name}: {section}.{key} is also in {main} (rename one; "
                "an include never overwrites)"
                for key in taken
            ]
            raw[section] = {**(mine or {}), **value}
        elif isinstance(value, list) and isinstance(mine, list | None):
            raw[section] = [*(mine or []), *value]
        else:
            problems.append(f"{where}: {part.name}: {section} has the wrong shape")
    return problems
