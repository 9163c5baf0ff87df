"""Alert sources: decoded webhook bodies in, neutral `AlertEvent`s out.

Each module exposes `parse(payload, source) -> Parsed`: the alerts, and the alerts refused alone
with the field to fix (a bad body as a whole raises `InputError` naming the field). `PARSERS`
maps a source's configured `kind` to its parser, `DECODERS` the kinds whose bodies are not
plain JSON to their decoder. `auth.verify` checks a request's credentials before its body is
parsed. Vendor kinds (`bot.settings.sourcekinds.TAGGED`) keep the vendor's tags as labels;
`bot.alerts.tagged` then gives them `service` and `env`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.sources import (
    alertmanager,
    aliyun,
    datadog,
    elastic,
    generic,
    grafana,
    newrelic,
    nightingale,
    sentry,
    tencentcloud,
    zabbix,
)
from bot.alerts.batch import Parsed

Parser = Callable[[Any, str], Parsed]
Decoder = Callable[[bytes, str], Any]

PARSERS: dict[str, Parser] = {
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
    "generic": generic.parse,
    "sentry": sentry.parse,
    "datadog": datadog.parse,
    "newrelic": newrelic.parse,
    "aliyun": aliyun.parse,
    "tencentcloud": tencentcloud.parse,
    "nightingale": nightingale.parse,
    "zabbix": zabbix.parse,
    "elastic": elastic.parse,
}

DECODERS: dict[str, Decoder] = {"aliyun": aliyun.decode}
"""Kinds whose bodies may be other than JSON (CloudMonitor posts a form); others are JSON."""
