"""A YAML syntax error as people can act on it: the file, line and column, and a hint."""

from __future__ import annotations

from pathlib import Path

import yaml

TAB_HINT = "YAML does not allow tabs for indentation; use spaces"
_HINTS = (
    ("'\\t'", TAB_HINT),
    ("mapping values are not allowed", "a value holding ': ' needs quotes"),
    ("while scanning a quoted scalar", "a quote is not closed"),
    ("expected <block end>", "check this line's indentation against the lines above"),
    ("while parsing a flow", "a bracket or brace is not closed"),
)


def describe(file: Path, text: str, exc: yaml.YAMLError) -> str:
    """``tocsin.yaml, line 3, column 1: found character '\\t' … (YAML does not allow tabs …)``."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return f"{file}: not valid YAML: {exc}"
    mark = exc.problem_mark
    problem = exc.problem or "not valid YAML"
    seen = f"{problem} {exc.context or ''}"
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    if "\t" in line[: len(line) - len(line.lstrip())]:
        hint = TAB_HINT
    else:
        hint = next((h for needle, h in _HINTS if needle in seen), "")
    where = f"{file}, line {mark.line + 1}, column {mark.column + 1}"
    return f"{where}: not valid YAML: {problem}" + (f" ({hint})" if hint else "")
