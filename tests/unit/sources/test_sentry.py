"""Sentry's integration-platform webhooks: the documented payloads in, alerts (or nothing) out;
the signature Sentry sends checked over HTTP; the credentials a Sentry source may configure."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sources import PARSERS, sentry
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import ConfigError, InputError
from bot.settings import parse_settings
from bot.store.db import Database
from tests.support import base_config
from tests.unit.sources.corrupt import DELETE, JSON, changed, node_paths
from tests.unit.sources.harness import (
    Sample,
    Served,
    lifecycle,
    payload,
    refused_unchanged,
    sample,
    served,
)

SECRET = "sentry-client-secret-6f1d9a3c7b2e4d8f0a5c1e7b9d3f6a2c"
SOURCE = {"name": "sentry-prod", "kind": "sentry", "auth": {"hmac_secret": SECRET}}


def parse(name: str) -> list[AlertEvent]:
    return sentry.parse(payload("sentry", name), "sentry-prod").strict()


# Issue alerts and issue webhooks


def test_an_issue_alert_maps_every_field() -> None:
    (event,) = parse("issue_alert")

    assert event == AlertEvent(
        source="sentry-prod",
        fingerprint="sentry:issue:1117540176",
        status=AlertStatus.FIRING,
        labels={
            "browser": "Chrome 75.0.3770",
            "browser_name": "Chrome",
            "handled": "no",
            "level": "error",
            "mechanism": "onerror",
            "os": "Mac OS X 10.14.0",
            "os_name": "Mac OS X",
            "user": "ip:162.217.75.90",
            "url": "https://null.jsbin.com/runner",
            "alertname": "Very Important Alert Rule!",
            "severity": "high",
            "sentry_severity": "error",
            "sentry_issue_id": "1117540176",
            "sentry_project": "front-end",
        },
        annotations={
            "summary": "ReferenceError: heck is not defined",
            "description": "Culprit: ?(<anonymous>)",
            "sentry_event_id": "e4874d664c3540c1a32eab185f12c5ab",
        },
        starts_at=datetime(2019, 8, 19, 21, 6, 17, 677000, tzinfo=UTC),
        ends_at=None,
        generator_url="https://sentry.io/organizations/test-org/issues/1117540176/events/"
        "e4874d664c3540c1a32eab185f12c5ab/",
        group_key="",
    )


def test_an_issue_alert_keeps_environment_release_and_its_own_labels_over_tags() -> None:
    body = payload("sentry", "issue_alert")
    event = body["data"]["event"]
    event.update(environment="production", release="front-end@2.14.0")
    event["tags"] += [["environment", "production"], ["severity", "low"], ["alertname", "x"]]

    (alert,) = sentry.parse(body, "s").strict()

    assert alert.labels["environment"] == alert.labels["sentry_environment"] == "production"
    assert (alert.labels["severity"], alert.labels["alertname"]) == (
        "high",
        "Very Important Alert Rule!",
    )
    assert alert.annotations["description"] == (
        "Culprit: ?(<anonymous>)\nRelease: front-end@2.14.0"
    )


def test_an_issue_alert_without_issue_id_or_rule_label_uses_the_issue_url_and_rule_title() -> None:
    body = payload("sentry", "issue_alert")
    del body["data"]["event"]["issue_id"], body["data"]["triggered_rule"]

    (alert,) = sentry.parse(body, "s").strict()

    assert alert.fingerprint == "sentry:issue:1117540176"
    assert alert.labels["alertname"] == "Very Important Alert Rule!"


def test_the_issue_resolved_closes_what_its_issue_alert_opened() -> None:
    (firing,) = parse("issue_alert")
    (event,) = parse("issue_resolved")

    assert event == AlertEvent(
        source="sentry-prod",
        fingerprint=firing.fingerprint,
        status=AlertStatus.RESOLVED,
        labels={
            "alertname": "ReferenceError: heck is not defined",
            "severity": "high",
            "sentry_severity": "error",
            "sentry_issue_id": "1117540176",
            "sentry_project": "front-end",
        },
        annotations={
            "summary": "ReferenceError: heck is not defined",
            "description": "Resolved in Sentry by Meredith Heller.",
            "sentry_status": "resolved",
            "sentry_short_id": "FRONT-END-9",
        },
        starts_at=datetime(2019, 8, 19, 21, 6, 17, 677000, tzinfo=UTC),
        ends_at=None,
        generator_url="https://test-org.sentry.io/issues/1117540176/",
        group_key="",
    )


@pytest.mark.parametrize("action", ["archived", "ignored"])
def test_an_issue_muted_in_sentry_ends_its_alert(action: str) -> None:
    body = payload("sentry", "issue_resolved")
    body["action"] = action
    body["data"]["issue"].update(status="ignored", substatus="archived_until_escalating")
    body["actor"] = {"type": "application", "id": "sentry", "name": "Sentry"}

    (event,) = sentry.parse(body, "s").strict()

    assert (event.status, event.fingerprint) == (AlertStatus.RESOLVED, "sentry:issue:1117540176")
    assert event.annotations["description"] == "Archived in Sentry."
    assert event.annotations["sentry_status"] == action
    assert event.annotations["sentry_substatus"] == "archived_until_escalating"


@pytest.mark.parametrize(
    ("level", "severity", "word"),
    [
        ("fatal", "critical", "fatal"),
        ("error", "high", "error"),
        ("warning", "warning", "warning"),
        ("info", "info", "info"),
        ("debug", "info", "debug"),
        ("FATAL", "critical", "fatal"),
        (None, "high", "error"),
        ("", "high", "error"),
        ("sample", "high", "sample"),
    ],
)
def test_sentry_levels_map_to_severities(level: str | None, severity: str, word: str) -> None:
    for name, path in (
        ("issue_alert", ("data", "event", "level")),
        ("issue_resolved", ("data", "issue", "level")),
    ):
        body = changed(payload("sentry", name), path, DELETE if level is None else level)
        (event,) = sentry.parse(body, "s").strict()
        assert (event.labels["severity"], event.labels["sentry_severity"]) == (severity, word)


# Metric alerts


def test_a_metric_alert_maps_every_field() -> None:
    (event,) = parse("metric_alert_critical")

    assert event == AlertEvent(
        source="sentry-prod",
        fingerprint="sentry:metric:7:bar",
        status=AlertStatus.FIRING,
        labels={
            "alertname": "Too many errors",
            "severity": "critical",
            "sentry_severity": "critical",
            "sentry_alert_rule_id": "7",
            "sentry_project": "bar",
        },
        annotations={
            "summary": "Critical: Too many errors",
            "description": "1000 events in the last 10 minutes\nFilter: level:error",
            "sentry_incident_id": "4",
        },
        starts_at=datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC),
        ends_at=None,
        generator_url="https://sentry.io/organizations/baz/alerts/1/",
        group_key="",
    )


def test_a_metric_alert_resolution_shares_the_fingerprint_and_drops_the_severity() -> None:
    (firing,) = parse("metric_alert_critical")
    (event,) = parse("metric_alert_resolved")

    assert (event.status, event.fingerprint) == (AlertStatus.RESOLVED, firing.fingerprint)
    assert event.labels == {
        "alertname": "Too many errors",
        "sentry_alert_rule_id": "7",
        "sentry_project": "bar",
    }
    assert event.annotations["summary"] == "Resolved: Too many errors"
    assert event.ends_at is None  # the documented payload has date_closed null

    closed = changed(
        payload("sentry", "metric_alert_resolved"),
        ("data", "metric_alert", "date_closed"),
        "2020-09-13T12:46:40.000000Z",
    )
    (ended,) = sentry.parse(closed, "s").strict()
    assert ended.ends_at == datetime(2020, 9, 13, 12, 46, 40, tzinfo=UTC)


def test_a_metric_warning_and_the_rule_environment_and_projects() -> None:
    body = payload("sentry", "metric_alert_critical")
    body["action"] = "warning"
    body["data"]["metric_alert"]["alert_rule"]["environment"] = "production"
    body["data"]["metric_alert"]["projects"] = ["web", "api"]

    (event,) = sentry.parse(body, "s").strict()

    assert event.fingerprint == "sentry:metric:7:api,web"
    assert (event.labels["severity"], event.labels["sentry_severity"]) == ("warning", "warning")
    assert event.labels["sentry_environment"] == "production"
    assert event.labels["sentry_project"] == "api,web"


def test_two_rules_or_two_projects_are_two_alerts() -> None:
    body = payload("sentry", "metric_alert_critical")
    other_rule = changed(body, ("data", "metric_alert", "alert_rule", "id"), 8)
    other_project = changed(body, ("data", "metric_alert", "projects"), ["baz"])

    prints = {
        sentry.parse(b, "s").strict()[0].fingerprint for b in (body, other_rule, other_project)
    }

    assert prints == {"sentry:metric:7:bar", "sentry:metric:8:bar", "sentry:metric:7:baz"}


def test_a_metric_alert_naming_no_project_is_keyed_by_its_rule_alone() -> None:
    body = payload("sentry", "metric_alert_critical")
    del body["data"]["metric_alert"]["projects"]
    body["data"]["metric_alert"]["alert_rule"]["projects"] = []

    (event,) = sentry.parse(body, "s").strict()

    assert event.fingerprint == "sentry:metric:7"
    assert "sentry_project" not in event.labels


# Ignored notifications


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("issue_created", None),
        ("issue_resolved", "created"),
        ("issue_resolved", "unresolved"),
        ("issue_resolved", "assigned"),
        ("installation", None),
        ("installation", "deleted"),
        ("comment", None),
        ("activity_alert", None),
    ],
)
def test_notifications_that_are_no_alert_give_nothing(name: str, action: str | None) -> None:
    body = payload("sentry", name)
    if action is not None:
        body["action"] = action

    parsed = sentry.parse(body, "s")

    assert (parsed.events, parsed.rejected) == ([], [])


def test_error_and_seer_resources_are_ignored() -> None:
    error = {"action": "created", "data": {"error": {"event_id": "e1", "level": "error"}}}
    seer = {"action": "root_cause_started", "data": {"run_id": 1, "group_id": 2}}

    assert sentry.parse(error, "s").events == sentry.parse(seer, "s").events == []


# Malformed bodies

A = ("data", "event")
M = ("data", "metric_alert")
CASES: list[tuple[str, tuple[str | int, ...], Any, str]] = [
    ("issue_alert", (), [], "payload: must be a JSON object, got array"),
    ("issue_alert", ("action",), DELETE, "action: required"),
    ("issue_alert", ("action",), {}, "action: must be a string, got object"),
    ("issue_alert", ("data",), DELETE, "data: required"),
    ("issue_alert", ("data",), "x", "data: must be a JSON object, got string"),
    ("issue_alert", A, DELETE, "data.event: required"),
    ("issue_alert", A, [], "data.event: must be a JSON object, got array"),
    ("issue_alert", (*A, "issue_id"), {}, "data.event.issue_id: must be a string, got object"),
    ("issue_alert", (*A, "level"), ["error"], "data.event.level: must be a string, got array"),
    ("issue_alert", (*A, "tags"), {"a": "b"}, "data.event.tags: must be an array of [key, value]"),
    (
        "issue_alert",
        (*A, "tags", 2),
        ["handled"],
        "data.event.tags[2]: must be a [key, value] pair",
    ),
    ("issue_alert", (*A, "tags", 2, 1), None, "data.event.tags[2][1]: must be a string, got null"),
    ("issue_alert", (*A, "datetime"), "yesterday", "data.event.datetime: must be an RFC 3339"),
    ("issue_resolved", ("data", "issue"), "x", "data.issue: must be a JSON object, got string"),
    ("issue_resolved", ("data", "issue", "id"), DELETE, "data.issue.id: required"),
    ("issue_resolved", ("data", "issue", "id"), "", "data.issue.id: required"),
    ("issue_resolved", ("data", "issue", "project"), [], "data.issue.project: must be a JSON"),
    ("issue_resolved", ("data", "issue", "firstSeen"), 1, "data.issue.firstSeen: must be an RFC"),
    ("metric_alert_critical", ("action",), "triggered", 'action: must be "critical", "warning"'),
    ("metric_alert_critical", M, None, "data.metric_alert: required"),
    ("metric_alert_critical", (*M, "alert_rule"), DELETE, "data.metric_alert.alert_rule: required"),
    ("metric_alert_critical", (*M, "alert_rule", "id"), DELETE, "data.metric_alert.alert_rule.id:"),
    ("metric_alert_critical", (*M, "projects"), "bar", "data.metric_alert.projects: must be an"),
    ("metric_alert_critical", (*M, "projects", 0), {}, "data.metric_alert.projects[0]: must be"),
    ("metric_alert_critical", (*M, "date_started"), "", "data.metric_alert.date_started: must"),
    ("metric_alert_critical", ("data", "web_url"), [], "data.web_url: must be a string, got array"),
]


@pytest.mark.parametrize(("name", "path", "value", "message"), CASES)
def test_a_malformed_body_names_the_field(
    name: str, path: tuple[str | int, ...], value: Any, message: str
) -> None:
    body = value if path == () else changed(payload("sentry", name), path, value)

    with pytest.raises(InputError, match=f"^{re.escape(message)}"):
        sentry.parse(body, "s")


def test_a_missing_rule_name_or_issue_id_is_named() -> None:
    body = payload("sentry", "issue_alert")
    del body["data"]["triggered_rule"], body["data"]["issue_alert"]
    with pytest.raises(InputError, match=r"^data\.triggered_rule: required"):
        sentry.parse(body, "s")
    body = payload("sentry", "issue_alert")
    del body["data"]["event"]["issue_id"], body["data"]["event"]["issue_url"]
    with pytest.raises(InputError, match=r"^data\.event\.issue_id: required"):
        sentry.parse(body, "s")


def test_numbers_for_ids_and_names_are_taken() -> None:
    body = payload("sentry", "metric_alert_critical")
    body["data"]["metric_alert"]["alert_rule"].update(id=7, name=404)

    (event,) = sentry.parse(body, "s").strict()

    assert (event.fingerprint, event.labels["alertname"]) == ("sentry:metric:7:bar", "404")


FIXTURES = ["issue_alert", "issue_resolved", "metric_alert_critical", "metric_alert_resolved"]


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(FIXTURES), data=st.data())
def test_any_corruption_gives_events_or_input_error(name: str, data: st.DataObject) -> None:
    body = payload("sentry", name)
    path = data.draw(st.sampled_from(node_paths(body)))
    corrupted = data.draw(JSON) if path == () else changed(body, path, data.draw(JSON))

    try:
        events = PARSERS["sentry"](corrupted, "s").strict()
    except InputError:
        return
    assert all(isinstance(event, AlertEvent) for event in events)


KEYS = ["event", "issue", "metric_alert", "activity"]


@settings(max_examples=200, deadline=None)
@given(
    body=st.fixed_dictionaries(
        {"action": st.sampled_from(["triggered", "resolved", "critical", "archived"]) | JSON},
        optional={
            "data": st.dictionaries(st.sampled_from(["event", "issue", "metric_alert"]), JSON)
        },
    )
)
def test_any_shape_under_the_known_keys_gives_events_or_input_error(body: Any) -> None:
    try:
        sentry.parse(body, "s").strict()
    except InputError:
        return


# Over HTTP, signed as Sentry signs


def signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed(body: bytes, *, at: float | None = None, secret: str = SECRET) -> dict[str, str]:
    """The headers Sentry sends with `body`."""
    return {
        "Sentry-Hook-Resource": "event_alert",
        "Sentry-Hook-Timestamp": str(int(time.time() if at is None else at)),
        "Sentry-Hook-Signature": signature(body, secret),
        "Request-ID": "6c1b1c7e-0d3f-4a57-9a0e-2b7f4c1d9e55",
    }


@dataclass
class Signed(Served):
    """The served app, each request signed with the client secret unless told otherwise."""

    async def post(
        self,
        request: Sample | bytes,
        *,
        headers: Mapping[str, str] | None = None,
        query: str | None = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        if headers is None:
            headers = signed(request.body if isinstance(request, Sample) else request)
        return await super().post(request, headers=headers, query=query, content_type=content_type)


def signing(app: Served) -> Signed:
    return Signed(app.app, app.client, app.kind, app.headers, app.query)


def issue_alert_with(**tags: str) -> Sample:
    body = payload("sentry", "issue_alert")
    body["data"]["event"]["tags"] += [[key, value] for key, value in tags.items()]
    return sample("sentry", "issue_alert", body)


async def test_an_issue_alert_and_its_resolution_over_http(db: Database) -> None:
    firing = issue_alert_with(service="orders", environment="production")
    async with served(db, SOURCE, query="source=sentry-prod") as plain:
        app = signing(plain)
        alert = await lifecycle(app, firing, sample("sentry", "issue_resolved"))
        assert alert["fingerprint"] == "sentry:issue:1117540176"
        (incident,) = await app.incidents()
        assert (incident["service"], incident["environment"]) == ("orders", "production")


async def test_a_metric_alert_takes_service_and_env_from_sentry_fields(db: Database) -> None:
    """By default, after the usual tags (a metric alert has none)."""
    source = SOURCE

    def with_environment(name: str) -> Sample:
        body = payload("sentry", name)
        body["data"]["metric_alert"]["alert_rule"]["environment"] = "production"
        return sample("sentry", name, body)

    async with served(db, source) as plain:
        app = signing(plain)
        firing, resolved = (
            with_environment("metric_alert_critical"),
            with_environment("metric_alert_resolved"),
        )
        alert = await lifecycle(app, firing, resolved)
        assert alert["fingerprint"] == "sentry:metric:7:bar"
        (incident,) = await app.incidents()
        assert (incident["service"], incident["environment"]) == ("bar", "production")


async def test_requests_not_signed_by_the_client_secret_are_refused(db: Database) -> None:
    request = sample("sentry", "issue_alert")
    tampered = request.body.replace(b"Very Important", b"Unimportant")
    async with served(db, SOURCE) as plain:
        app = signing(plain)
        mismatch = "Sentry-Hook-Signature: signature does not match the body"
        other_secret = signed(request.body, secret="another-integration-secret")
        await refused_unchanged(app, request, 401, mismatch, headers=other_secret)
        await refused_unchanged(app, tampered, 401, mismatch, headers=signed(request.body))
        unsigned = {k: v for k, v in signed(request.body).items() if "Signature" not in k}
        await refused_unchanged(
            app, request, 401, "missing Sentry-Hook-Signature", headers=unsigned
        )
        stale = signed(request.body, at=time.time() - 3600)
        await refused_unchanged(app, request, 401, "Sentry-Hook-Timestamp: ", headers=stale)
        assert (await app.post(request)).status_code == 200  # the same, signed and fresh
        assert await app.counts() == (1, 1)


async def test_a_malformed_body_is_refused_naming_the_field(db: Database) -> None:
    body = payload("sentry", "issue_resolved")
    del body["data"]["issue"]["id"]
    async with served(db, SOURCE) as plain:
        app = signing(plain)
        await refused_unchanged(
            app, sample("sentry", "issue_resolved", body), 400, "data.issue.id: required"
        )
        metric = changed(
            payload("sentry", "metric_alert_critical"),
            ("data", "metric_alert", "alert_rule"),
            DELETE,
        )
        await refused_unchanged(
            app,
            sample("sentry", "metric_alert_critical", metric),
            400,
            "data.metric_alert.alert_rule: required",
        )


@pytest.mark.parametrize("name", ["issue_created", "installation", "comment", "activity_alert"])
async def test_ignored_notifications_are_answered_200_and_store_nothing(
    db: Database, name: str
) -> None:
    async with served(db, SOURCE) as plain:
        app = signing(plain)
        response = await app.post(sample("sentry", name))
        assert response.status_code == 200, response.text
        assert response.json()["received"] == 0
        assert await app.counts() == (0, 0)


# What `tocsin check` lets a Sentry source configure


def configured(auth: dict[str, str]) -> Any:
    config = base_config()
    source = {"name": "sentry-prod", "kind": "sentry", "auth": auth}
    return parse_settings({**config, "sources": [*config["sources"], source]}, env={})


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"bearer_token": "t" * 24}, "auth.bearer_token: a sentry source's sender cannot present"),
        ({"bearer_token": "t" * 24}, "auth.hmac_secret: required: a sentry source must set"),
        (
            {"hmac_secret": SECRET, "bearer_token": "t" * 24},
            "auth.bearer_token: a sentry source's sender cannot present",
        ),
        ({"hmac_secret": SECRET, "hmac_scheme": "tocsin"}, "auth.hmac_secret: a sentry source's"),
    ],
)
def test_check_refuses_what_sentry_cannot_send(auth: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=r"sources\.3") as caught:
        configured(auth)
    assert message in str(caught.value)


def test_the_client_secret_alone_is_taken_and_checked_the_sentry_way() -> None:
    auth = configured({"hmac_secret": SECRET}).sources[-1].auth
    assert (auth.hmac_scheme, auth.signature_header) == ("sentry", "Sentry-Hook-Signature")
