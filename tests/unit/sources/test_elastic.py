"""Kibana rule actions through the Webhook connector: the rendered body template of
docs/alerts-elastic.md in, `AlertEvent`s or a named `InputError` out, and over HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sources import elastic
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import ConfigError, InputError
from bot.settings.loader import parse_settings
from bot.store.db import Database
from tests.support import base_config
from tests.unit.sources.corrupt import DELETE, JSON, changed, node_paths
from tests.unit.sources.harness import lifecycle, payload, refused_unchanged, sample, served

KIND = "elastic"
TOKEN = "elastic-token-Vd8Kq3Lx7Rz2Nw5Tb9Hc4"
SOURCE = {"name": "kibana", "kind": KIND, "auth": {"bearer_token": TOKEN}}
RULE = "5d8f2a60-9c1e-11ee-8f4c-3b2a1d0e9f7c"
RULE_URL = (
    f"https://kibana.example.com/app/management/insightsAndAlerting/triggersActions/rule/{RULE}"
)


def one(body: Any) -> AlertEvent:
    (event,) = elastic.parse(body, "kibana").strict()
    return event


# Parser


def test_index_threshold_firing_maps_every_field() -> None:
    event = one(payload(KIND, "index_threshold_firing"))

    assert event == AlertEvent(
        source="kibana",
        fingerprint=f"elastic:{RULE}:www.elastic.co",
        status=AlertStatus.FIRING,
        labels={
            "alertname": "kibana sites - high egress",
            "severity": "critical",
            "elastic_severity": "critical",
            "service": "storefront",
            "env": "prod",
            "team": "web",
            "elastic_rule_id": RULE,
            "elastic_rule_type": ".index-threshold",
            "elastic_space": "default",
            "elastic_alert_id": "www.elastic.co",
        },
        annotations={
            "summary": "rule kibana sites - high egress met threshold",
            "description": "rule 'kibana sites - high egress' is active for group 'threshold met':"
            "\n\n- Value: 42\n- Conditions Met: count greater than 4 over 5m"
            "\n- Timestamp: 2020-01-01T00:00:00.000Z",
            "conditions": "count greater than 4",
            "value": "42",
            "action_group": "Threshold met",
            "alert_uuid": "a2f5c7e1-3b4d-4e6f-8a9b-0c1d2e3f4a5b",
        },
        starts_at=None,
        ends_at=None,
        generator_url=RULE_URL,
        group_key="",
    )


def test_recovery_resolves_the_same_alert_with_the_same_labels() -> None:
    firing = one(payload(KIND, "index_threshold_firing"))
    resolved = one(payload(KIND, "index_threshold_recovered"))

    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.labels == firing.labels
    assert resolved.ends_at == datetime(2020, 1, 1, 0, 35, tzinfo=UTC)
    assert resolved.annotations["action_group"] == "Recovered"
    assert resolved.annotations["value"] == "3"


def test_es_query_maps_title_conditions_and_discover_link() -> None:
    event = one(payload(KIND, "es_query_firing"))

    assert event.fingerprint == "elastic:8c0e4b2a-1f3d-4a5b-9c6d-7e8f9a0b1c2d:host-2"
    assert event.labels == {
        "alertname": "esq",
        "severity": "high",
        "elastic_rule_id": "8c0e4b2a-1f3d-4a5b-9c6d-7e8f9a0b1c2d",
        "elastic_rule_type": ".es-query",
        "elastic_space": "default",
        "elastic_alert_id": "host-2",
    }
    assert event.annotations == {
        "summary": "rule 'esq' matched query for group host-2",
        "conditions": 'Number of matching documents for group "host-2" is less than 1000',
        "dashboard_url": "https://example.com/this-will-link-to-Discover",
        "action_group": "Query matched",
        "alert_uuid": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
    }
    assert event.starts_at is None and event.ends_at is None


def test_apm_rule_keeps_service_and_environment_and_the_alert_page() -> None:
    event = one(payload(KIND, "apm_error_count_firing"))

    assert event.labels["elastic_service"] == "opbeans-java"
    assert event.labels["elastic_environment"] == "production"
    assert event.labels["team"] == "java"
    assert event.labels["severity"] == "high" and "elastic_severity" not in event.labels
    assert event.annotations["summary"].startswith("Error count is 25 in the last 5 mins")
    assert event.annotations["dashboard_url"] == (
        "https://kibana.example.com/app/observability/alerts/7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    )
    assert "description" not in event.annotations


def test_security_rule_takes_its_severity_and_prebuilt_tags() -> None:
    event = one(payload(KIND, "security_detection_firing"))

    assert event.status is AlertStatus.FIRING
    assert event.labels["severity"] == "high"
    assert event.labels["elastic_severity"] == "high"
    assert event.labels["Domain"] == "Endpoint"
    assert event.labels["Use_Case"] == "Threat Detection"
    assert event.labels["service"] == "payments"
    assert event.annotations["description"].startswith("Identifies multiple consecutive")
    assert event.annotations["dashboard_url"].startswith(
        "https://kibana.example.com/app/security/detections/rules/id/"
    )
    assert event.generator_url.endswith(
        "/app/security/rules/id/e4a1b2c3-d4e5-4f60-a7b8-c9d0e1f2a3b4"
    )


def test_two_alerts_of_one_rule_are_two_fingerprints() -> None:
    body = payload(KIND, "index_threshold_firing")
    other = changed(body, ("alert", "id"), "artifacts.elastic.co")

    assert one(body).fingerprint != one(other).fingerprint
    assert one(other).fingerprint == f"elastic:{RULE}:artifacts.elastic.co"


@pytest.mark.parametrize(
    ("tag", "security", "group", "severity", "vendor"),
    [
        ("severity:critical", "", "threshold met", "critical", "critical"),
        ("severity:High", "", "threshold met", "high", "High"),
        ("severity=medium", "", "threshold met", "warning", "medium"),
        ("severity:warning", "", "threshold met", "warning", "warning"),
        ("severity:low", "", "threshold met", "info", "low"),
        ("severity:info", "", "threshold met", "info", "info"),
        ("", "critical", "default", "critical", "critical"),
        ("", "medium", "default", "warning", "medium"),
        ("", "low", "default", "info", "low"),
        ("severity:low", "critical", "default", "info", "low"),
        ("severity:urgent", "high", "default", "high", "high"),
        ("", "", "metrics.threshold.fired", "high", None),
        ("", "", "metrics.threshold.warning", "warning", None),
        ("", "", "metrics.inventory_threshold.warning", "warning", None),
        ("", "", "metrics.threshold.nodata", "warning", None),
        ("", "", "slo.burnRate.alert", "critical", None),
        ("", "", "slo.burnRate.high", "high", None),
        ("", "", "slo.burnRate.medium", "warning", None),
        ("", "", "slo.burnRate.low", "info", None),
        ("", "", "query matched", "high", None),
        ("severity:urgent", "", "slo.burnRate.low", "info", None),
    ],
)
def test_severity_table(
    tag: str, security: str, group: str, severity: str, vendor: str | None
) -> None:
    body = payload(KIND, "es_query_firing")
    body = changed(body, ("rule", "tags"), [tag] if tag else [])
    body = changed(body, ("context", "rule", "severity"), security)
    body = changed(body, ("alert", "actionGroup"), group)

    labels = one(body).labels

    assert labels["severity"] == severity
    assert labels.get("elastic_severity") == vendor


def test_a_recovery_of_an_action_group_severity_resolves_as_high() -> None:
    body = changed(payload(KIND, "es_query_firing"), ("alert", "actionGroup"), "recovered")

    event = one(body)

    assert event.status is AlertStatus.RESOLVED and event.labels["severity"] == "high"


def test_tags_rendered_as_kibanas_comma_joined_string() -> None:
    body = changed(
        payload(KIND, "index_threshold_firing"), ("rule", "tags"), "service:storefront, env:prod"
    )

    labels = one(body).labels

    assert labels["service"] == "storefront" and labels["env"] == "prod"
    assert labels["severity"] == "high"


def test_a_runbook_tag_becomes_the_cards_runbook_link() -> None:
    tags = ["runbook_url:https://runbooks.example.com/egress", "runbook:not-a-link"]
    body = changed(payload(KIND, "es_query_firing"), ("rule", "tags"), tags)

    assert one(body).annotations["runbook_url"] == "https://runbooks.example.com/egress"


def test_flapping_and_numbers_are_written_out() -> None:
    body = payload(KIND, "index_threshold_firing")
    body = changed(body, ("alert", "flapping"), True)
    body = changed(body, ("context", "value"), 42.5)
    body = changed(body, ("rule", "id"), 1234)

    event = one(body)

    assert event.annotations["flapping"] == "true"
    assert event.annotations["value"] == "42.5"
    assert event.fingerprint == "elastic:1234:www.elastic.co"


def test_rule_tags_cannot_overwrite_the_rules_own_facts() -> None:
    tags = ["alertname:other", "elastic_rule_id:other"]
    body = changed(payload(KIND, "es_query_firing"), ("rule", "tags"), tags)

    labels = one(body).labels

    assert labels["alertname"] == "esq"
    assert labels["elastic_rule_id"] == "8c0e4b2a-1f3d-4a5b-9c6d-7e8f9a0b1c2d"


def test_an_unrendered_connector_test_is_ignored() -> None:
    parsed = elastic.parse(payload(KIND, "connector_test"), "kibana")

    assert parsed.events == [] and parsed.rejected == []


SAMPLE = "index_threshold_firing"
MALFORMED: list[tuple[tuple[str | int, ...], Any, str]] = [
    ((), [], "payload: must be a JSON object, got array"),
    ((), "x", "payload: must be a JSON object, got string"),
    (("rule",), DELETE, "rule: required"),
    (("rule",), "r", "rule: must be a JSON object, got string"),
    (("rule", "id"), DELETE, "rule.id: required"),
    (("rule", "id"), "", "rule.id: required"),
    (("rule", "id"), {}, "rule.id: must be a string, got object"),
    (("rule", "name"), "", "rule.name: required"),
    (("rule", "name"), ["x"], "rule.name: must be a string, got array"),
    (
        ("rule", "tags"),
        {"a": "b"},
        "rule.tags: must be an array of strings or a string, got object",
    ),
    (("rule", "tags", 1), None, "rule.tags[1]: must be a string, got null"),
    (("rule", "url"), 5.5, None),
    (("alert",), DELETE, "alert: required"),
    (("alert",), 3, "alert: must be a JSON object, got number"),
    (
        ("alert", "actionGroup"),
        "",
        'alert.actionGroup: required (set the action\'s frequency to "For each alert")',
    ),
    (
        ("alert", "id"),
        DELETE,
        'alert.id: required (set the action\'s frequency to "For each alert")',
    ),
    (("alert", "flapping"), [], "alert.flapping: must be a string, got array"),
    (("context",), "c", "context: must be a JSON object, got string"),
    (("context", "reason"), {}, "context.reason: must be a string, got object"),
    (("context", "rule"), [], "context.rule: must be a JSON object, got array"),
    (("context", "rule", "severity"), {}, "context.rule.severity: must be a string, got object"),
    (("date",), "yesterday", "date: must be an RFC 3339 timestamp like"),
]


@pytest.mark.parametrize(("path", "value", "message"), MALFORMED)
def test_malformed_body_names_the_variable(
    path: tuple[str | int, ...], value: Any, message: str | None
) -> None:
    body = value if path == () else changed(payload(KIND, SAMPLE), path, value)
    if message is None:  # harmless: a number where a string is expected is written out
        assert one(body).generator_url == "5.5"
        return

    with pytest.raises(InputError, match=f"^{re.escape(message)}"):
        elastic.parse(body, "kibana")


def test_a_date_is_read_only_on_recovery() -> None:
    body = changed(
        payload(KIND, "index_threshold_recovered"), ("date",), "2020-01-01T08:35:00+08:00"
    )

    assert one(body).ends_at == datetime(2020, 1, 1, 0, 35, tzinfo=UTC)


SAMPLES = [
    "index_threshold_firing",
    "index_threshold_recovered",
    "es_query_firing",
    "apm_error_count_firing",
    "security_detection_firing",
    "connector_test",
]


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(SAMPLES), data=st.data())
def test_any_corruption_gives_events_or_input_error(name: str, data: st.DataObject) -> None:
    body = payload(KIND, name)
    path = data.draw(st.sampled_from(node_paths(body)))
    corrupted = data.draw(JSON) if path == () else changed(body, path, data.draw(JSON))

    try:
        events = elastic.parse(corrupted, "kibana").strict()
    except InputError:
        return
    assert all(isinstance(event, AlertEvent) for event in events)


@settings(max_examples=200, deadline=None)
@given(body=JSON)
def test_arbitrary_json_gives_events_or_input_error(body: Any) -> None:
    try:
        parsed = elastic.parse(body, "kibana")
    except InputError:
        return
    assert all(isinstance(event, AlertEvent) for event in parsed.events)


# HTTP

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


async def test_lifecycle_over_http(db: Database) -> None:
    async with served(db, SOURCE, headers=HEADERS, query="source=kibana") as app:
        firing = sample(KIND, "index_threshold_firing")
        alert = await lifecycle(app, firing, sample(KIND, "index_threshold_recovered"))

        assert alert["fingerprint"] == f"elastic:{RULE}:www.elastic.co"
        assert alert["labels"]["severity"] == "critical"
        (incident,) = await app.incidents()
        assert incident["service"] == "storefront"
        assert incident["environment"] == "prod"


async def test_service_and_env_from_apm_by_default(db: Database) -> None:
    async with served(db, SOURCE, headers=HEADERS) as app:
        response = await app.post(sample(KIND, "apm_error_count_firing"))

        assert response.status_code == 200, response.text
        (incident,) = await app.incidents()
        assert incident["service"] == "opbeans-java"
        assert incident["environment"] == "production"


async def test_token_in_another_header_when_basic_auth_holds_authorization(db: Database) -> None:
    source = {**SOURCE, "auth": {"bearer_token": TOKEN, "token_header": "X-Tocsin-Token"}}
    headers = {"Authorization": "Basic a2liYW5hOnNlY3JldA==", "X-Tocsin-Token": TOKEN}
    async with served(db, source, headers=headers) as app:
        response = await app.post(sample(KIND, "es_query_firing"))

        assert response.status_code == 200, response.text
        assert response.json()["opened"] == 1


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": "Bearer forged-token-Qz8Wn3Lk5Xv2"}, "invalid bearer token"),
        ({}, "missing Authorization header"),
        ({"Authorization": "Basic a2liYW5hOnNlY3JldA=="}, "Authorization header must be"),
    ],
)
async def test_forged_or_missing_credentials_are_refused(
    db: Database, headers: dict[str, str], message: str
) -> None:
    async with served(db, SOURCE, headers=HEADERS) as app:
        request = sample(KIND, "index_threshold_firing")
        await refused_unchanged(app, request, 401, message, headers=headers)


async def test_malformed_body_is_refused_naming_the_variable(db: Database) -> None:
    body = changed(payload(KIND, "index_threshold_firing"), ("rule", "name"), DELETE)
    async with served(db, SOURCE, headers=HEADERS) as app:
        request = sample(KIND, "index_threshold_firing", body)
        await refused_unchanged(app, request, 400, "rule.name: required")
        await refused_unchanged(app, b'{"rule": {"id": ', 400, "not valid JSON")


async def test_a_summary_action_is_refused_naming_the_setting(db: Database) -> None:
    body = changed(
        payload(KIND, "index_threshold_firing"), ("alert",), {"id": "", "actionGroup": ""}
    )
    async with served(db, SOURCE, headers=HEADERS) as app:
        request = sample(KIND, "index_threshold_firing", body)
        await refused_unchanged(app, request, 400, 'frequency to "For each alert"')


async def test_connector_test_is_answered_and_stores_nothing(db: Database) -> None:
    async with served(db, SOURCE, headers=HEADERS) as app:
        response = await app.post(sample(KIND, "connector_test"))

        assert response.status_code == 200, response.text
        assert response.json()["received"] == 0
        assert await app.counts() == (0, 0)


# Settings


@pytest.mark.parametrize(
    ("auth", "key"),
    [
        ({"hmac_secret": "elastic-hmac-Ry6Tn2Kq8Wx4Lb9Vd3"}, "auth.hmac_secret"),
        (
            {"bearer_token": TOKEN, "hmac_secret": "elastic-hmac-Ry6Tn2Kq8Wx4Lb9Vd3"},
            "auth.hmac_secret",
        ),
    ],
)
def test_a_credential_kibana_cannot_send_is_refused_naming_the_key(
    auth: dict[str, str], key: str
) -> None:
    config = base_config()
    config["sources"] = [*config["sources"], {"name": "kibana", "kind": KIND, "auth": auth}]

    with pytest.raises(ConfigError) as info:
        parse_settings(config, env={})

    problems = "\n".join(info.value.problems)
    assert f"{key}: a elastic source's sender cannot present this" in problems


@pytest.mark.parametrize(
    "auth",
    [{"bearer_token": TOKEN}, {"bearer_token": TOKEN, "token_header": "X-Tocsin-Token"}],
)
def test_a_header_token_is_taken(auth: dict[str, str]) -> None:
    config = base_config()
    config["sources"] = [*config["sources"], {"name": "kibana", "kind": KIND, "auth": auth}]

    settings_ = parse_settings(config, env={})

    assert any(source.kind == KIND for source in settings_.sources)
