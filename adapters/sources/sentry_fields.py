"""Reading Sentry webhook fields: required values, ids, event tags, and Sentry's levels.

Sentry's levels become Tocsin severities by `LEVELS` (an event's or an issue's ``level``) and
`METRIC_LEVELS` (a metric alert's ``action``); the word Sentry sent stays in the label
``sentry_severity``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from adapters.sources._common import join, json_type, scalar_string
from adapters.sources.tags import CRITICAL, HIGH, INFO, WARNING, as_labels
from bot.errors import InputError

LEVELS = {
    "fatal": CRITICAL,
    "error": HIGH,
    "warning": WARNING,
    "info": INFO,
    "debug": INFO,
}
"""An event's or issue's level to a severity. A missing level counts as ``error``, Sentry's
default; a word Sentry does not document counts as ``error`` too (`DEFAULT_LEVEL`)."""
DEFAULT_LEVEL = "error"
METRIC_LEVELS = {"critical": CRITICAL, "warning": WARNING}
"""A metric alert's action to a severity (``resolved`` ends the alert)."""

_PROJECT_EVENT = re.compile(r"/api/0/projects/[^/]+/(?P<project>[^/]+)/events/")
_ISSUE_API = re.compile(r"/issues/(?P<id>[0-9]+)/?$")


def severity(level: str) -> dict[str, str]:
    """The ``severity`` and ``sentry_severity`` labels of an event's or issue's level."""
    word = level.strip().lower() or DEFAULT_LEVEL
    return {"severity": LEVELS.get(word, LEVELS[DEFAULT_LEVEL]), "sentry_severity": word}


def required(obj: dict[str, Any], key: str, where: str) -> Any:
    """`obj[key]`, which must be present and not null."""
    value = obj.get(key)
    if value is None:
        raise InputError(f"{join(where, key)}: required")
    return value


def ident(obj: dict[str, Any], key: str, where: str) -> str:
    """A required id: a non-empty string, or a number Sentry sent as one."""
    value = scalar_string(required(obj, key, where), join(where, key)).strip()
    if not value:
        raise InputError(f"{join(where, key)}: required, got an empty string")
    return value


def names(value: Any, where: str) -> list[str]:
    """An array of names (a metric alert's project slugs); missing or null gives none."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{where}: must be an array of strings, got {json_type(value)}")
    return [scalar_string(item, f"{where}[{index}]") for index, item in enumerate(value)]


def event_tags(value: Any, where: str) -> dict[str, str]:
    """An event's ``tags``, ``[[key, value], ...]``, as labels (the first of a key kept)."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise InputError(f"{where}: must be an array of [key, value] pairs, got {json_type(value)}")
    found: dict[str, str] = {}
    for index, pair in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(pair, list) or len(pair) != 2:
            shape = f"{len(pair)} items" if isinstance(pair, list) else json_type(pair)
            raise InputError(f"{at}: must be a [key, value] pair, got {shape}")
        key = scalar_string(pair[0], f"{at}[0]")
        found.setdefault(key, scalar_string(pair[1], f"{at}[1]"))
    return as_labels(found)


def project_of_event(api_url: str) -> str:
    """The project slug in an event's API URL (``…/api/0/projects/<org>/<project>/events/…``),
    the only place an issue alert names its project; `""` when the URL is not of that shape."""
    match = _PROJECT_EVENT.search(_path(api_url))
    return unquote(match["project"]) if match else ""


def issue_of_url(api_url: str) -> str:
    """The issue id at the end of an issue's API URL (``…/api/0/issues/<id>/``), or `""`."""
    match = _ISSUE_API.search(_path(api_url))
    return match["id"] if match else ""


def _path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:
        return ""
