"""The alert-source parsers: recorded payloads in, `AlertEvent`s or a named `InputError` out."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sources import PARSERS, alertmanager, generic, grafana
from adapters.sources._common import parse_time
from bot.alerts.event import AlertEvent, AlertStatus, label_fingerprint
from bot.errors import InputError
from bot.settings.sourcekinds import ACCEPTS, SourceKind
from tests.unit.sources.corrupt import DELETE, JSON, changed, node_paths

DATA = Path(__file__).parent.parent / "data" / "sources"
Parser = Callable[[Any, str], list[AlertEvent]]


def load(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text())


# Alertmanager


def test_alertmanager_firing_maps_every_field() -> None:
    first, second = alertmanager.parse(load("alertmanager_v4_firing"), "prom").strict()

    assert first == AlertEvent(
        source="prom",
        fingerprint="4f2a9c1e7b3d5a60",
        status=AlertStatus.FIRING,
        labels={
            "alertname": "HighErrorRate",
            "env": "prod",
            "instance": "checkout-7d9f8c6b5-x2k4p:8080",
            "job": "checkout",
            "service": "checkout",
            "severity": "critical",
        },
        annotations={
            "description": "5xx ratio is 12.4% over the last 5m (threshold 5%).",
            "runbook_url": "https://runbooks.example.com/checkout/high-error-rate",
            "summary": "checkout is returning errors",
            "alertmanager_url": "http://alertmanager.example.com:9093",
        },
        starts_at=datetime(2026, 1, 5, 3, 0, 0, 123456, tzinfo=UTC),
        ends_at=None,
        generator_url="http://prometheus.example.com:9090/graph"
        "?g0.expr=job%3Acheckout%3Aerror_ratio5m+%3E+0.05&g0.tab=1",
        group_key='{}/{severity=~"critical|high"}:{alertname="HighErrorRate", service="checkout"}',
    )
    assert second.fingerprint == "b71d03e6a58c2f94"
    assert second.group_key == first.group_key


def test_alertmanager_timestamps_are_utc_and_nanoseconds_truncated() -> None:
    first, second = alertmanager.parse(load("alertmanager_v4_firing"), "prom").strict()

    assert first.starts_at is not None and first.starts_at.tzinfo is UTC
    assert first.starts_at.microsecond == 123456
    # "2026-01-05T11:00:30.5+08:00"
    assert second.starts_at == datetime(2026, 1, 5, 3, 0, 30, 500000, tzinfo=UTC)
    assert second.starts_at is not None and second.starts_at.tzinfo is UTC


def test_alertmanager_resolved() -> None:
    (event,) = alertmanager.parse(load("alertmanager_v4_resolved"), "prom").strict()

    assert event.status is AlertStatus.RESOLVED
    assert event.starts_at == datetime(2026, 1, 5, 3, 0, 0, 123456, tzinfo=UTC)
    assert event.ends_at == datetime(2026, 1, 5, 3, 42, 15, 987654, tzinfo=UTC)


def test_alertmanager_ignores_unknown_keys_and_falls_back_to_label_fingerprint() -> None:
    payload = load("alertmanager_v4_newer_keys")

    (event,) = alertmanager.parse(payload, "prom").strict()

    labels = payload["alerts"][0]["labels"]
    assert event.labels == labels
    assert event.fingerprint == label_fingerprint(labels)
    assert event.group_key == '{}:{alertname="DiskFilling"}'
    assert event.ends_at is None


def test_label_fingerprint_fallback_ignores_label_order() -> None:
    payload = load("alertmanager_v4_newer_keys")
    labels = payload["alerts"][0]["labels"]
    reordered = changed(payload, ("alerts", 0, "labels"), dict(reversed(list(labels.items()))))

    (event,) = alertmanager.parse(payload, "prom").strict()
    (again,) = alertmanager.parse(reordered, "prom").strict()

    assert list(reordered["alerts"][0]["labels"]) != list(labels)
    assert again.fingerprint == event.fingerprint


def test_empty_fingerprint_falls_back_to_labels() -> None:
    payload = changed(load("alertmanager_v4_firing"), ("alerts", 0, "fingerprint"), "")

    event = alertmanager.parse(payload, "prom").strict()[0]

    assert event.fingerprint == label_fingerprint(event.labels)


def test_scalar_label_values_are_coerced_to_strings() -> None:
    payload = changed(
        load("alertmanager_v4_firing"),
        ("alerts", 0, "labels"),
        {"alertname": "X", "replicas": 3, "ratio": 0.5, "canary": False},
    )

    event = alertmanager.parse(payload, "prom").strict()[0]

    assert event.labels == {"alertname": "X", "replicas": "3", "ratio": "0.5", "canary": "false"}


def test_no_alerts_is_an_empty_list() -> None:
    parsed = alertmanager.parse(changed(load("alertmanager_v4_firing"), ("alerts",), []), "p")
    assert parsed.strict() == [] and parsed.rejected == []


@pytest.mark.parametrize(
    ("parse", "fixture"),
    [
        (alertmanager.parse, "alertmanager_v4_firing"),
        (grafana.parse, "grafana_firing"),
        (generic.parse, "generic_batch"),
    ],
)
def test_a_bad_alert_is_rejected_alone(parse: Parser, fixture: str) -> None:
    payload = changed(load(fixture), ("alerts", 0, "status"), "pending")
    payload["alerts"].append(17)

    parsed = parse(payload, "src")

    assert len(parsed.events) == 1  # the good second alert
    [bad_status, not_object] = parsed.rejected
    assert bad_status.where == "alerts[0]" and bad_status.reason == "malformed"
    assert bad_status.error.startswith("alerts[0].status: must be")
    assert not_object.where == "alerts[2]" and "must be a JSON object" in not_object.error


def test_a_rejected_alert_is_named_by_what_it_carried() -> None:
    payload = changed(load("alertmanager_v4_firing"), ("alerts", 1, "startsAt"), "soon")

    [rejected] = alertmanager.parse(payload, "src").rejected

    assert rejected.fingerprint == payload["alerts"][1]["fingerprint"]
    assert rejected.name == payload["alerts"][1]["labels"]["alertname"]
    assert rejected.as_json()["alertname"] == rejected.name


def test_truncated_alerts_are_reported() -> None:
    payload = changed(load("alertmanager_v4_firing"), ("truncatedAlerts",), 12)
    assert alertmanager.parse(payload, "src").truncated == 12
    assert grafana.parse(changed(payload, ("truncatedAlerts",), "x"), "src").truncated == 0


# Grafana


def test_grafana_maps_urls_and_value_into_annotations() -> None:
    first, second = grafana.parse(load("grafana_firing"), "graf").strict()

    assert first.source == "graf"
    assert first.fingerprint == "9a1c2b3d4e5f6071"
    assert first.status is AlertStatus.FIRING
    assert first.labels["alertname"] == "High CPU"
    assert first.annotations == {
        "description": "CPU above 90% for 10 minutes",
        "summary": "payments-api-1 CPU is high",
        "dashboard_url": "https://grafana.example.com/d/payments-overview?orgId=1",
        "panel_url": "https://grafana.example.com/d/payments-overview?orgId=1&viewPanel=4",
        "value": "[ var='B' labels={instance=payments-api-1} value=93.2 ], "
        "[ var='C' labels={instance=payments-api-1} value=1 ]",
    }
    assert first.starts_at == datetime(2026, 1, 5, 3, 10, tzinfo=UTC)
    assert first.ends_at is None
    assert first.generator_url.startswith("https://grafana.example.com/alerting/grafana/")
    assert first.group_key.endswith('{alertname="High CPU", grafana_folder="Payments"}')
    # Empty URLs and value string add nothing; no fingerprint falls back to the labels.
    assert second.annotations == {"summary": "payments-api-2 CPU is high"}
    assert second.fingerprint == label_fingerprint(second.labels)


def test_grafana_keeps_a_rule_annotation_of_the_same_name() -> None:
    payload = changed(load("grafana_firing"), ("alerts", 0, "annotations", "value"), "93 %")

    assert grafana.parse(payload, "graf").strict()[0].annotations["value"] == "93 %"


# Generic


def test_generic_single_maps_every_field() -> None:
    (event,) = generic.parse(load("generic_single"), "ci").strict()

    labels = {
        "region": "eu-west-1",
        "canary": "true",
        "replicas": "3",
        "alertname": "DeployVerificationFailed",
        "severity": "critical",
        "service": "checkout",
        "env": "prod",
    }
    assert event == AlertEvent(
        source="ci",
        fingerprint=label_fingerprint(labels),
        status=AlertStatus.FIRING,
        labels=labels,
        annotations={
            "runbook_url": "https://runbooks.example.com/deploys",
            "summary": "checkout v2.14.0 failed post-deploy checks",
            "description": "Smoke test /api/cart returned 502 on 3 of 5 attempts.",
        },
        starts_at=datetime(2026, 1, 5, 2, 0, tzinfo=UTC),
        ends_at=None,
        generator_url="https://ci.example.com/pipelines/8812",
        group_key="deploy/checkout/v2.14.0",
    )


def test_generic_batch() -> None:
    backup, cert = generic.parse(load("generic_batch"), "cron").strict()

    assert backup.fingerprint == "backup-postgres-main"
    assert backup.status is AlertStatus.FIRING
    assert backup.labels == {
        "alertname": "BackupMissing",
        "severity": "warning",
        "service": "postgres",
    }
    assert backup.annotations == {"summary": "No backup in the last 26h"}
    assert backup.starts_at is None and backup.group_key == "" and backup.generator_url == ""
    assert cert.status is AlertStatus.RESOLVED
    assert cert.labels == {"domain": "shop.example.com", "alertname": "CertificateExpiring"}
    assert cert.fingerprint == label_fingerprint(cert.labels)
    assert cert.ends_at == datetime(2026, 1, 5, 9, 30, 0, 250000, tzinfo=UTC)


def test_generic_field_may_repeat_an_equal_label() -> None:
    payload = changed(load("generic_single"), ("labels", "service"), "checkout")

    assert generic.parse(payload, "ci").strict()[0].labels["service"] == "checkout"


def test_generic_null_fields_count_as_absent() -> None:
    alert = {"name": "Ping", "status": None, "severity": None, "labels": None, "url": None}

    (event,) = generic.parse(alert, "ci").strict()

    assert event.status is AlertStatus.FIRING
    assert event.labels == {"alertname": "Ping"}
    assert event.generator_url == ""


def test_generic_minimal_alert() -> None:
    (event,) = generic.parse({"name": "Ping"}, "ci").strict()

    assert event.labels == {"alertname": "Ping"}
    assert event.status is AlertStatus.FIRING
    assert event.fingerprint == label_fingerprint({"alertname": "Ping"})


# Shared behaviour


def test_registry_names_each_parser() -> None:
    assert set(PARSERS) == set(get_args(SourceKind)) == set(ACCEPTS)
    assert PARSERS["alertmanager"] is alertmanager.parse
    assert PARSERS["grafana"] is grafana.parse
    assert PARSERS["generic"] is generic.parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05T03:00:00Z", datetime(2026, 1, 5, 3, tzinfo=UTC)),
        ("2026-01-05t03:00:00z", datetime(2026, 1, 5, 3, tzinfo=UTC)),
        ("2026-01-05 03:00:00Z", datetime(2026, 1, 5, 3, tzinfo=UTC)),
        ("2026-01-05T03:00:00.000000001Z", datetime(2026, 1, 5, 3, tzinfo=UTC)),
        ("2026-01-05T03:00:00.1Z", datetime(2026, 1, 5, 3, 0, 0, 100000, tzinfo=UTC)),
        ("2026-01-04T22:30:00-04:30", datetime(2026, 1, 5, 3, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("0001-01-01T00:00:00.000Z", None),
        (None, None),
    ],
)
def test_parse_time(text: str | None, expected: datetime | None) -> None:
    result = parse_time(text, "at")

    assert result == expected
    assert result is None or result.tzinfo is UTC


OBJ = "must be an object of strings"
# Alertmanager (alertmanager_v4_firing.json): (path, replacement, message)
AM_CASES: list[tuple[tuple[str | int, ...], Any, str]] = [
    ((), [], "payload: must be a JSON object, got array"),
    ((), None, "payload: must be a JSON object, got null"),
    ((), "x", "payload: must be a JSON object, got string"),
    (("alerts",), DELETE, "alerts: required"),
    (("alerts",), {}, "alerts: must be an array, got object"),
    (("alerts", 1), "x", "alerts[1]: must be a JSON object"),
    (("groupKey",), 5, "groupKey: must be a string, got number"),
    (("alerts", 1, "labels"), DELETE, "alerts[1].labels: required"),
    (("alerts", 1, "labels"), [], f"alerts[1].labels: {OBJ}, got array"),
    (("alerts", 1, "labels", "team"), {"a": "b"}, f"alerts[1].labels: {OBJ}, 'team' is object"),
    (("alerts", 1, "labels", "team"), ["a"], f"alerts[1].labels: {OBJ}, 'team' is array"),
    (("alerts", 1, "labels", "team"), None, f"alerts[1].labels: {OBJ}, 'team' is null"),
    (("alerts", 0, "annotations"), "x", f"alerts[0].annotations: {OBJ}, got string"),
    (
        ("alerts", 0, "annotations", "summary"),
        {},
        f"alerts[0].annotations: {OBJ}, 'summary' is object",
    ),
    (("alerts", 0, "status"), DELETE, "alerts[0].status: required"),
    (("alerts", 0, "status"), "pending", 'alerts[0].status: must be "firing" or "resolved"'),
    (("alerts", 0, "status"), {}, 'alerts[0].status: must be "firing" or "resolved"'),
    (
        ("alerts", 0, "startsAt"),
        "yesterday",
        "alerts[0].startsAt: must be an RFC 3339 timestamp like",
    ),
    (
        ("alerts", 0, "startsAt"),
        "2026-01-05T03:00:00",
        "alerts[0].startsAt: must be an RFC 3339 timestamp like",
    ),
    (
        ("alerts", 0, "startsAt"),
        1767582000,
        "alerts[0].startsAt: must be an RFC 3339 timestamp string, got number",
    ),
    (("alerts", 0, "endsAt"), "2026-13-05T03:00:00Z", "alerts[0].endsAt: not a valid timestamp"),
    (("alerts", 0, "endsAt"), "2026-01-05T24:00:00Z", "alerts[0].endsAt: not a valid timestamp"),
    (
        ("alerts", 0, "endsAt"),
        "2026-01-05T03:00:00+24:00",
        "alerts[0].endsAt: not a valid timestamp",
    ),
    (
        ("alerts", 0, "endsAt"),
        "2026-01-05T03:00:00+05:75",
        "alerts[0].endsAt: must be an RFC 3339 timestamp like",
    ),
    (
        ("alerts", 0, "endsAt"),
        "0001-01-01T00:00:00+01:00",
        "alerts[0].endsAt: not a valid timestamp",
    ),
    (("alerts", 0, "fingerprint"), 123, "alerts[0].fingerprint: must be a string, got number"),
    (("alerts", 0, "generatorURL"), [], "alerts[0].generatorURL: must be a string, got array"),
]
# Grafana (grafana_firing.json): (path, replacement, message)
GRAFANA_CASES: list[tuple[tuple[str | int, ...], Any, str]] = [
    ((), [], "payload: must be a JSON object, got array"),
    (("alerts",), "none", "alerts: must be an array, got string"),
    (("alerts", 0, "dashboardURL"), 1, "alerts[0].dashboardURL: must be a string, got number"),
    (("alerts", 0, "panelURL"), {}, "alerts[0].panelURL: must be a string, got object"),
    (("alerts", 0, "valueString"), 93.2, "alerts[0].valueString: must be a string, got number"),
    (("alerts", 1, "labels", "x"), [1], f"alerts[1].labels: {OBJ}, 'x' is array"),
    (("alerts", 1, "status"), "alerting", 'alerts[1].status: must be "firing" or "resolved"'),
]
# generic, one alert (generic_single.json): (path, replacement, message)
SINGLE_CASES: list[tuple[tuple[str | int, ...], Any, str]] = [
    ((), True, "payload: must be a JSON object, got boolean"),
    (("name",), DELETE, "name: required"),
    (("name",), "", "name: required"),
    (("name",), {"en": "x"}, "name: must be a string, got object"),
    (("severity",), ["high"], "severity: must be a string, got array"),
    (("labels", "service"), "cart", "service: 'checkout' conflicts with labels.service='cart'"),
    (
        ("labels", "alertname"),
        "Other",
        "name: 'DeployVerificationFailed' conflicts with labels.alertname='Other'",
    ),
    (
        ("annotations", "summary"),
        "x",
        "summary: 'checkout v2.14.0 failed post-deploy checks' "
        "conflicts with annotations.summary='x'",
    ),
    (("description",), {}, "description: must be a string, got object"),
    (("labels",), "x", f"labels: {OBJ}, got string"),
    (("annotations", "runbook_url"), {"href": "x"}, f"annotations: {OBJ}, 'runbook_url' is object"),
    (("status",), "FIRING", 'status: must be "firing" or "resolved"'),
    (("starts_at",), "5 minutes ago", "starts_at: must be an RFC 3339 timestamp like"),
    (("ends_at",), 0, "ends_at: must be an RFC 3339 timestamp string, got number"),
    (("url",), 5, "url: must be a string, got number"),
    (("group_key",), False, "group_key: must be a string, got boolean"),
    (("fingerprint",), 1, "fingerprint: must be a string, got number"),
]
# generic, batch (generic_batch.json): (path, replacement, message)
BATCH_CASES: list[tuple[tuple[str | int, ...], Any, str]] = [
    (("alerts",), "x", "alerts: must be an array, got string"),
    (("alerts", 1), 3, "alerts[1]: must be a JSON object, got number"),
    (("alerts", 1, "name"), DELETE, "alerts[1].name: required"),
    (("alerts", 1, "labels", "domain"), {}, f"alerts[1].labels: {OBJ}, 'domain' is object"),
]
MALFORMED = [
    *[(alertmanager.parse, "alertmanager_v4_firing", *case) for case in AM_CASES],
    *[(grafana.parse, "grafana_firing", *case) for case in GRAFANA_CASES],
    *[(generic.parse, "generic_single", *case) for case in SINGLE_CASES],
    *[(generic.parse, "generic_batch", *case) for case in BATCH_CASES],
]


@pytest.mark.parametrize(("parse", "fixture", "path", "value", "message"), MALFORMED)
def test_malformed_input_names_the_field(
    parse: Parser, fixture: str, path: tuple[str | int, ...], value: Any, message: str
) -> None:
    payload = value if path == () else changed(load(fixture), path, value)

    with pytest.raises(InputError, match=f"^{re.escape(message)}"):
        parse(payload, "src").strict()


FIXTURES = [
    (alertmanager.parse, "alertmanager_v4_firing"),
    (alertmanager.parse, "alertmanager_v4_newer_keys"),
    (grafana.parse, "grafana_firing"),
    (generic.parse, "generic_single"),
    (generic.parse, "generic_batch"),
]


@settings(max_examples=300, deadline=None)
@given(case=st.sampled_from(FIXTURES), data=st.data())
def test_any_corruption_gives_events_or_input_error(
    case: tuple[Parser, str], data: st.DataObject
) -> None:
    parse, fixture = case
    payload = load(fixture)
    path = data.draw(st.sampled_from(node_paths(payload)))
    corrupted = data.draw(JSON) if path == () else changed(payload, path, data.draw(JSON))

    try:
        events = parse(corrupted, "src").strict()
    except InputError:
        return
    assert all(isinstance(event, AlertEvent) for event in events)
