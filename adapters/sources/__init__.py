"""Alert sources: decoded webhook bodies in, neutral `AlertEvent`s out.

Each module exposes `parse(payload, source) -> Parsed`: the alerts, and the alerts refused alone
with the field to fix (a bad body as a whole raises `InputError` naming the field). `PARSERS`
maps a source's configured `kind` to its parser. `auth.verify` checks a request's bearer token
and/or HMAC signature before its body is parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.sources import alertmanager, generic, grafana
from bot.alerts.batch import Parsed

Parser = Callable[[Any, str], Parsed]

PARSERS: dict[str, Parser] = {
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
    "generic": generic.parse,
}
