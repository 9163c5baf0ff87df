"""The New Relic source: workflow webhook payloads (New Relic's default template and the one
docs/alerts-newrelic.md recommends) to alerts, and the sender's contract over HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sources import newrelic
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import ConfigError, InputError
from bot.settings.loader import parse_settings
from bot.store.db import Database
from tests.support import base_config
from tests.unit.sources.corrupt import DELETE, JSON, changed, node_paths
from tests.unit.sources.harness import lifecycle, payload, refused_unchanged, sample, served

KIND = "newrelic"
TOKEN = "newrelic-token-Wq4Zr8Lm2Tx6Kc9Vb3Hd7"
SOURCE = {"name": "nr", "kind": KIND, "auth": {"bearer_token": TOKEN}}
BEARER = {"Authorization": f"Bearer {TOKEN}"}
DEFAULT_ID = "7d1f3c2a-9b4e-4f6a-8c21-5e0b9a3d7f14"
RECOMMENDED_ID = "e2b84c19-60d7-4a3f-b5e8-c91f0a7d2436"


def one(body: Any) -> AlertEvent:
    (event,) = newrelic.parse(body, "nr").strict()
    return event


# The documented payloads


def test_default_template_firing_maps_every_field() -> None:
    event = one(payload(KIND, "default_activated"))

    assert event == AlertEvent(
        source="nr",
        fingerprint=f"newrelic:{DEFAULT_ID}",
        status=AlertStatus.FIRING,
        labels={
            "alertname": "Checkout error rate",
            "severity": "critical",
            "newrelic_severity": "CRITICAL",
            "newrelic_policy": "Checkout golden signals",
        },
        annotations={
            "summary": "checkout-api query result is > 5.0 for 5 minutes on 'Checkout error rate'",
            "description": "Impacted: checkout-api\nPolicy: Checkout golden signals\n"
            "Conditions: Checkout error rate",
            "impacted_entities": "checkout-api",
            "incidents": "1",
            "newrelic_state": "ACTIVATED",
            "newrelic_trigger": "STATE_CHANGE",
            "newrelic_sources": "newrelic",
            "newrelic_correlated": "false",
            "newrelic_workflow": "Tocsin on-call",
        },
        starts_at=datetime(2026, 1, 5, 3, 0, 0, 250000, tzinfo=UTC),
        ends_at=None,
        generator_url="https://radar-api.service.newrelic.com/accounts/3712908/issues/"
        f"{DEFAULT_ID}?notifier=WEBHOOK",
    )


def test_default_template_closed_resolves_the_same_alert_at_its_last_update() -> None:
    firing = one(payload(KIND, "default_activated"))
    closed = one(payload(KIND, "default_closed"))

    assert closed.status is AlertStatus.RESOLVED
    assert closed.fingerprint == firing.fingerprint
    assert closed.labels == firing.labels
    assert closed.starts_at == firing.starts_at
    # the default template carries no closedAt: updatedAt is when the issue closed
    assert closed.ends_at == datetime(2026, 1, 5, 3, 41, 7, 125000, tzinfo=UTC)
    assert closed.annotations["newrelic_state"] == "CLOSED"


def test_recommended_template_firing_maps_every_field() -> None:
    event = one(payload(KIND, "recommended_activated"))

    assert event == AlertEvent(
        source="nr",
        fingerprint=f"newrelic:{RECOMMENDED_ID}",
        status=AlertStatus.FIRING,
        labels={
            "alertname": "Payment latency p95",
            "severity": "high",
            "newrelic_severity": "HIGH",
            "newrelic_policy": "Payments",
            "newrelic_condition_id": "41236789",
            "account": "Shop Production",
            "accountId": "3712908",
            "service": "payments",
            "environment": "production",
            "team": "payments-sre",
        },
        annotations={
            "summary": "payments-api query result is > 2.0 for 5 minutes on 'Payment latency p95'",
            "description": "p95 latency of POST /pay is above 2 s; card authorisations time out.\n"
            "Impacted: payments-api, payments-worker\nPolicy: Payments\n"
            "Conditions: Payment latency p95, Payment worker queue",
            "runbook_url": "https://runbooks.example.com/payments/latency",
            "panel_url": "https://gorgon.nr-assets.net/image/3c9e71d2-4b0a-4f58-a6d3-0e2f9c8b7a51"
            "?config.legend.enabled=false&width=400&height=210",
            "impacted_entities": "payments-api, payments-worker",
            "incidents": "2",
            "newrelic_state": "ACTIVATED",
            "newrelic_trigger": "INCIDENT_ADDED",
            "newrelic_sources": "newrelic",
            "newrelic_correlated": "true",
            "newrelic_workflow": "Tocsin on-call",
        },
        starts_at=datetime(2026, 1, 5, 11, 20, tzinfo=UTC),
        ends_at=None,
        generator_url="https://radar-api.service.newrelic.com/accounts/3712908/issues/"
        f"{RECOMMENDED_ID}?notifier=WEBHOOK",
    )


def test_recommended_template_closed_ends_at_closed_at() -> None:
    firing = one(payload(KIND, "recommended_activated"))
    closed = one(payload(KIND, "recommended_closed"))

    assert closed.status is AlertStatus.RESOLVED
    assert closed.fingerprint == firing.fingerprint
    assert closed.labels == firing.labels
    assert closed.ends_at == datetime(2026, 1, 5, 12, 5, tzinfo=UTC)


def test_acknowledgement_is_ignored() -> None:
    parsed = newrelic.parse(payload(KIND, "recommended_acknowledged"), "nr")

    assert parsed.events == [] and parsed.rejected == []


# Severity, status, and the shapes an edited template may give


@pytest.mark.parametrize(
    ("priority", "severity"),
    [
        ("CRITICAL", "critical"),
        ("HIGH", "high"),
        ("MEDIUM", "warning"),
        ("LOW", "info"),
        ("medium", "warning"),  # `priorityText` is "Medium"; either is understood
    ],
)
def test_priority_gives_the_severity(priority: str, severity: str) -> None:
    event = one(changed(payload(KIND, "default_activated"), ("priority",), priority))

    assert event.labels["severity"] == severity
    assert event.labels["newrelic_severity"] == priority.upper()


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("CREATED", AlertStatus.FIRING),
        ("ACTIVATED", AlertStatus.FIRING),
        ("CLOSED", AlertStatus.RESOLVED),
        ("DEACTIVATED", AlertStatus.RESOLVED),
        ("closed", AlertStatus.RESOLVED),
    ],
)
def test_state_gives_the_status(state: str, status: AlertStatus) -> None:
    assert one(changed(payload(KIND, "default_activated"), ("state",), state)).status is status


def test_an_acknowledged_trigger_is_ignored_but_a_closing_is_not() -> None:
    acked = changed(payload(KIND, "default_activated"), ("trigger",), "ACKNOWLEDGED")
    closing = changed(payload(KIND, "default_closed"), ("trigger",), "ACKNOWLEDGED")

    assert newrelic.parse(acked, "nr").events == []
    assert one(closing).status is AlertStatus.RESOLVED


def test_a_user_action_on_an_open_issue_repeats_the_firing_alert() -> None:
    firing = one(payload(KIND, "default_activated"))
    acted = one(changed(payload(KIND, "default_activated"), ("trigger",), "USER_ACTION"))

    assert acted.status is AlertStatus.FIRING
    assert (acted.fingerprint, acted.labels, acted.starts_at) == (
        firing.fingerprint,
        firing.labels,
        firing.starts_at,
    )


def test_issue_id_and_issue_page_url_may_be_named_as_new_relic_names_them() -> None:
    body = payload(KIND, "default_activated")
    body["issueId"] = body.pop("id")
    body["issuePageUrl"] = body.pop("issueUrl")

    event = one(body)

    assert event.fingerprint == f"newrelic:{DEFAULT_ID}"
    assert event.generator_url.startswith("https://radar-api.service.newrelic.com/")


def test_two_issues_are_two_alerts() -> None:
    other = changed(
        payload(KIND, "default_activated"), ("id",), "0b9e6d4c-1f2a-4b3c-8d5e-6f7a8b9c0d1e"
    )

    assert one(other).fingerprint != one(payload(KIND, "default_activated")).fingerprint


def test_tags_keep_their_first_value_so_labels_stay_put() -> None:
    body = payload(KIND, "recommended_activated")
    body["tags"]["service"] = ["payments", "ledger"]
    body["tags"]["k8s.namespace"] = "shop"  # one value, not a list
    body["tags"]["empty"] = []
    body["tags"]["blank"] = [None, " "]

    labels = one(body).labels

    assert labels["service"] == "payments"
    assert labels["k8s_namespace"] == "shop"
    assert "empty" not in labels and "blank" not in labels


def test_tags_never_override_the_alert_s_own_labels() -> None:
    body = payload(KIND, "recommended_activated")
    body["tags"].update(alertname=["other"], severity=["info"])

    labels = one(body).labels

    assert (labels["alertname"], labels["severity"]) == ("Payment latency p95", "high")


@pytest.mark.parametrize(
    ("changes", "alertname"),
    [
        ({"alertConditionNames": "Checkout error rate"}, "Checkout error rate"),
        ({"alertConditionNames": None}, "Checkout golden signals"),
        ({"alertConditionNames": [], "alertPolicyNames": None}, "checkout-api query result"),
    ],
)
def test_alertname_falls_back_to_policy_then_title(changes: dict[str, Any], alertname: str) -> None:
    body = payload(KIND, "default_activated") | changes

    assert one(body).labels["alertname"].startswith(alertname)


def test_scalars_are_taken_in_any_json_spelling() -> None:
    body = payload(KIND, "default_activated") | {
        "createdAt": "1767582000250",
        "totalIncidents": "3",
        "isCorrelated": "false",
        "impactedEntities": None,
    }

    event = one(body)

    assert event.starts_at == datetime(2026, 1, 5, 3, 0, 0, 250000, tzinfo=UTC)
    assert event.annotations["incidents"] == "3"
    assert "impacted_entities" not in event.annotations


MALFORMED: list[tuple[str, tuple[str | int, ...], Any, str]] = [
    ("default_activated", (), [], "payload: must be a JSON object, got array"),
    ("default_activated", (), "x", "payload: must be a JSON object, got string"),
    ("default_activated", ("state",), DELETE, "state: required"),
    ("default_activated", ("state",), "OPEN", "state: must be one of CREATED, ACTIVATED, CLOSED"),
    ("default_activated", ("state",), ["ACTIVATED"], "state: must be a string, got array"),
    ("default_activated", ("id",), DELETE, "id: required"),
    ("default_activated", ("id",), "", "id: required"),
    ("default_activated", ("id",), {"uuid": "x"}, "id: must be a string, got object"),
    ("default_activated", ("priority",), DELETE, "priority: required"),
    ("default_activated", ("priority",), "P1", "priority: must be one of CRITICAL, HIGH"),
    ("default_activated", ("priority",), 1, "priority: must be one of CRITICAL, HIGH"),
    ("default_activated", ("title",), {}, "title: must be a string, got object"),
    ("default_activated", ("alertConditionNames", 0), {}, "alertConditionNames[0]: must be a"),
    ("default_activated", ("alertPolicyNames",), {}, "alertPolicyNames: must be a string, got"),
    ("default_activated", ("impactedEntities", 0), [], "impactedEntities[0]: must be a string"),
    ("default_activated", ("createdAt",), "yesterday", "createdAt: must be epoch milliseconds"),
    ("default_activated", ("createdAt",), True, "createdAt: must be epoch milliseconds, got bool"),
    ("default_activated", ("createdAt",), -1, "createdAt: -1 is not epoch milliseconds"),
    ("default_activated", ("createdAt",), 10**20, "createdAt: 100000000000000000000 is not"),
    ("default_activated", ("issueUrl",), 5, "issueUrl: must be a string, got number"),
    ("default_closed", ("updatedAt",), [], "updatedAt: must be epoch milliseconds, got array"),
    ("recommended_activated", ("closedAt",), "soon", "closedAt: must be epoch milliseconds"),
    ("recommended_activated", ("tags",), ["env:prod"], "tags: must be an object of tag names"),
    ("recommended_activated", ("tags", "team"), [{"a": 1}], "tags.team: must be an array of"),
    ("recommended_activated", ("description",), {"x": 1}, "description: must be a string"),
    ("recommended_activated", ("conditionFamilyId",), {}, "conditionFamilyId: must be a string"),
]


def test_no_name_at_all_is_refused() -> None:
    body = payload(KIND, "default_activated") | {
        "alertConditionNames": [],
        "alertPolicyNames": [],
        "title": None,
    }

    with pytest.raises(InputError, match=r"^alertConditionNames: required"):
        newrelic.parse(body, "nr")


@pytest.mark.parametrize(("name", "path", "value", "message"), MALFORMED)
def test_malformed_input_names_the_field(
    name: str, path: tuple[str | int, ...], value: Any, message: str
) -> None:
    body = value if path == () else changed(payload(KIND, name), path, value)

    with pytest.raises(InputError, match=f"^{re.escape(message)}"):
        newrelic.parse(body, "nr")


NAMES = [
    "default_activated",
    "default_closed",
    "recommended_activated",
    "recommended_closed",
    "recommended_acknowledged",
]


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(NAMES), data=st.data())
def test_any_corruption_gives_an_alert_or_input_error(name: str, data: st.DataObject) -> None:
    body = payload(KIND, name)
    path = data.draw(st.sampled_from(node_paths(body)))
    corrupted = data.draw(JSON) if path == () else changed(body, path, data.draw(JSON))

    try:
        parsed = newrelic.parse(corrupted, "nr")
    except InputError:
        return
    assert parsed.rejected == []
    for event in parsed.events:
        assert isinstance(event, AlertEvent) and event.fingerprint.startswith("newrelic:")
        assert all(
            isinstance(v, str) for v in [*event.labels.values(), *event.annotations.values()]
        )


# Over HTTP


async def test_default_template_lifecycle(db: Database) -> None:
    async with served(db, SOURCE, headers=BEARER, query="source=nr") as app:
        alert = await lifecycle(
            app, sample(KIND, "default_activated"), sample(KIND, "default_closed")
        )

    assert alert["fingerprint"] == f"newrelic:{DEFAULT_ID}"
    assert alert["labels"]["alertname"] == "Checkout error rate"


async def test_recommended_template_lifecycle_takes_service_and_env_from_tags(
    db: Database,
) -> None:
    async with served(db, SOURCE, headers=BEARER) as app:
        alert = await lifecycle(
            app, sample(KIND, "recommended_activated"), sample(KIND, "recommended_closed")
        )
        (incident,) = await app.incidents()

    assert alert["labels"]["service"] == "payments"
    assert alert["labels"]["env"] == "production"
    assert (incident["service"], incident["environment"]) == ("payments", "production")


async def test_an_acknowledgement_is_answered_and_stores_nothing(db: Database) -> None:
    async with served(db, SOURCE, headers=BEARER) as app:
        response = await app.post(sample(KIND, "recommended_acknowledged"))

        assert response.status_code == 200, response.text
        assert response.json()["received"] == 0
        assert await app.counts() == (0, 0)


async def test_a_malformed_payload_is_refused_naming_the_field(db: Database) -> None:
    body = payload(KIND, "default_activated")
    del body["priority"]
    async with served(db, SOURCE, headers=BEARER) as app:
        await refused_unchanged(app, sample(KIND, "default_activated", body), 400, "priority:")
        await refused_unchanged(app, b"{", 400, "not valid JSON")


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": "Bearer forged-token"}, "invalid bearer token"),
        ({"Authorization": f"Basic {TOKEN}"}, "Authorization header must be: Bearer <token>"),
        ({}, "missing Authorization header"),
    ],
)
async def test_bad_credentials_are_refused_and_nothing_stored(
    db: Database, headers: dict[str, str], message: str
) -> None:
    async with served(db, SOURCE, headers=BEARER) as app:
        await refused_unchanged(
            app, sample(KIND, "default_activated"), 401, message, headers=headers
        )


async def test_a_custom_header_token(db: Database) -> None:
    source = {**SOURCE, "auth": {"bearer_token": TOKEN, "token_header": "X-Tocsin-Token"}}
    async with served(db, source, headers={"X-Tocsin-Token": TOKEN}) as app:
        await refused_unchanged(
            app,
            sample(KIND, "default_activated"),
            401,
            "invalid X-Tocsin-Token",
            headers={"X-Tocsin-Token": "forged"},
        )
        await lifecycle(app, sample(KIND, "default_activated"), sample(KIND, "default_closed"))


async def test_a_token_in_the_url(db: Database) -> None:
    source = {**SOURCE, "auth": {"query_token": TOKEN}}
    async with served(db, source, query=f"source=nr&token={TOKEN}") as app:
        await refused_unchanged(
            app,
            sample(KIND, "default_activated"),
            401,
            "missing token query parameter",
            query="source=nr",
        )
        await lifecycle(app, sample(KIND, "default_activated"), sample(KIND, "default_closed"))


# Settings


def test_a_signature_new_relic_cannot_send_is_refused_naming_the_key() -> None:
    config = base_config()
    config["sources"].append({"name": "nr", "kind": KIND, "auth": {"hmac_secret": "s3cret-Lq8"}})

    with pytest.raises(ConfigError) as info:
        parse_settings(config, env={})

    problems = "\n".join(info.value.problems)
    assert "auth.hmac_secret: a newrelic source's sender cannot present this" in problems
    assert "bearer_token" in problems and "query_token" in problems
