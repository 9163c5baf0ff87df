"""The alert source kinds, and the credentials each sender is able to present.

A vendor can only send what its webhook settings offer: Sentry signs with its integration's
client secret and sets no other header, Tencent Cloud's alarm callback takes a URL and nothing
else. A source configured with a method its sender cannot use would refuse every request, so
`tocsin check` refuses it first, naming the key and what the vendor can do instead.
"""

from __future__ import annotations

from typing import Literal

SourceKind = Literal[
    "alertmanager",
    "grafana",
    "generic",
    "sentry",
    "datadog",
    "newrelic",
    "aliyun",
    "tencentcloud",
    "nightingale",
    "zabbix",
    "elastic",
]

_HEADERS = frozenset({"bearer", "query"})
ACCEPTS: dict[str, frozenset[str]] = {
    "alertmanager": frozenset({"bearer", "query", "tocsin"}),
    "grafana": frozenset({"bearer", "query", "tocsin"}),
    "generic": frozenset({"bearer", "query", "tocsin"}),
    "sentry": frozenset({"sentry", "query"}),
    "datadog": _HEADERS,
    "newrelic": _HEADERS,
    "aliyun": _HEADERS,
    "tencentcloud": frozenset({"query"}),
    "nightingale": _HEADERS,
    "zabbix": _HEADERS,
    "elastic": _HEADERS,
}
"""Per kind, the `SourceAuth.methods` its sender can satisfy."""

REQUIRES: dict[str, str] = {"sentry": "sentry"}
"""Kinds whose sender always signs: the method they must be configured with."""

_ADVICE = {
    "bearer": "bearer_token (a header the sender sets)",
    "query": "query_token (?token= in the URL)",
    "tocsin": "hmac_secret",
    "sentry": "hmac_secret (the integration's client secret)",
}
_KEYS = {
    "bearer": "bearer_token",
    "query": "query_token",
    "tocsin": "hmac_secret",
    "sentry": "hmac_secret",
}

TAGGED: frozenset[str] = frozenset(ACCEPTS) - {"alertmanager", "grafana", "generic"}
"""Kinds whose labels are the vendor's tags: their `service` and `env` labels are taken from
the first tag named in `Source.service_from` / `Source.env_from` (see `adapters.sources.tags`)."""


def auth_problems(kind: str, methods: frozenset[str]) -> list[tuple[str, str]]:
    """`(key, problem)` for each configured method the kind's sender cannot present."""
    accepted = ACCEPTS[kind]
    problems = []
    for method in sorted(methods - accepted):
        can = " or ".join(_ADVICE[m] for m in sorted(accepted))
        problems.append((_KEYS[method], f"a {kind} source's sender cannot present this; use {can}"))
    required = REQUIRES.get(kind)
    if required and required not in methods:
        advice = _ADVICE[required]
        problems.append((_KEYS[required], f"required: a {kind} source must set {advice}"))
    return problems
