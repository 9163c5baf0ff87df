"""`service` and `env` for alerts whose labels are a vendor's tags.

Datadog, Sentry, Nightingale and the rest do not know Tocsin's `service` and `env` labels; they
carry tags, which their parsers keep as labels. An alert with no `service` (or `env`) label of
its own takes the value of the first tag, among the source's `service_from` (or `env_from`),
that holds one. Unset, vendor kinds look for the names below, the ones the vendors' own
conventions use; Alertmanager, Grafana and generic sources look for none, since their alerts
are written with Tocsin's labels in mind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.alerts.event import AlertEvent
from bot.settings.schema import Source
from bot.settings.sourcekinds import TAGGED

SERVICE_TAGS: tuple[str, ...] = (
    "service",
    "service_name",
    "app",
    "application",
    "app_name",
    "appname",
)
"""The tags a vendor alert's `service` label comes from by default, the first present winning
(OpenTelemetry's ``service.name`` arrives as ``service_name``)."""
ENV_TAGS: tuple[str, ...] = ("env", "environment", "deployment_environment", "stage")
"""The tags its `env` label comes from by default."""
KIND_TAGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sentry": (("sentry_project",), ("sentry_environment",)),
    "elastic": (("elastic_service",), ("elastic_environment",)),
    "aliyun": (("aliyun_app",), ()),
}
"""Per kind, the vendor's own service and environment fields (as its parser labels them),
looked at after the tags above: a tag set by the team says more than the vendor's default."""


def tag_names(source: Source) -> tuple[Sequence[str], Sequence[str]]:
    """The tags `source`'s alerts take `service` and `env` from."""
    tagged = source.kind in TAGGED
    own_service, own_env = KIND_TAGS.get(source.kind, ((), ()))
    service_from = source.service_from
    if service_from is None:
        service_from = SERVICE_TAGS + own_service if tagged else ()
    env_from = source.env_from
    if env_from is None:
        env_from = ENV_TAGS + own_env if tagged else ()
    return service_from, env_from


def with_service_env(source: Source, events: list[AlertEvent]) -> list[AlertEvent]:
    """`events`, each given `service` and `env` labels from its tags where it has none."""
    service_from, env_from = tag_names(source)
    if not service_from and not env_from:
        return events
    result = []
    for event in events:
        added: dict[str, str] = {}
        for target, names in (("service", service_from), ("env", env_from)):
            if event.labels.get(target):
                continue
            value = next((event.labels[n] for n in names if event.labels.get(n)), "")
            if value:
                added[target] = value
        result.append(replace(event, labels={**event.labels, **added}) if added else event)
    return result
