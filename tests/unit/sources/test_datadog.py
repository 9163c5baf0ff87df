"""Datadog monitor notifications: the recommended template and the default payload, parsed and
served over HTTP (data in tests/data/sources/datadog/)."""

from __future__ import annotations

import contextlib
import copy
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sources import datadog
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import ConfigError, InputError
from bot.settings import parse_settings
from bot.settings.schema import Settings
from bot.store.db import Database
from tests.support import base_config
from tests.unit.sources.corrupt import JSON
from tests.unit.sources.harness import lifecycle, payload, refused_unchanged, sample, served

TOKEN = "datadog-token-Vb7Kq2Xm9Ld4Rs8Tw3Hn6"
SOURCE = {"name": "dd", "kind": "datadog", "auth": {"bearer_token": TOKEN}}
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
SCOPE = "availability-zone:us-east-1a,role:computing-node"
FINGERPRINT = f"datadog:1234:{SCOPE}"
T0 = datetime(2014, 7, 29, 19, 37, 52, tzinfo=UTC)  # 1406662672000
T1 = datetime(2014, 7, 29, 19, 47, 52, tzinfo=UTC)


def parse(body: Any) -> list[AlertEvent]:
    parsed = datadog.parse(body, "dd")
    assert parsed.rejected == []
    return parsed.events


def template(**fields: Any) -> dict[str, Any]:
    """The rendered template with `fields` replaced (None removes one)."""
    body: dict[str, Any] = payload("datadog", "template_triggered")
    for key, value in fields.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


# The recommended template


def test_template_triggered_maps_every_field() -> None:
    (event,) = parse(payload("datadog", "template_triggered"))

    assert event == AlertEvent(
        source="dd",
        fingerprint=FINGERPRINT,
        status=AlertStatus.FIRING,
        labels={
            "monitor": "",
            "name": "myService",
            "role": "computing-node",
            "availability_zone": "us-east-1a",
            "alertname": "Host is Down",
            "severity": "critical",
            "datadog_severity": "P1",
            "datadog_monitor_id": "1234",
            "datadog_scope": SCOPE,
            "datadog_event_type": "query_alert_monitor",
            "datadog_host": "my-host",
        },
        annotations={
            "summary": f"Host is Down on {SCOPE}",
            "description": "system.load.1 over host:my-host was > 0 at least once during the "
            "last 1m\n\n@webhook-url Sending to the webhook\n\n"
            "The host stopped answering; restart it from the console.",
            "datadog_transition": "Triggered",
            "panel_url": "https://p.datadoghq.com/path-to-snapshot",
            "datadog_metric": "system.load.1",
            "datadog_query": "max(last_1m):max:system.load.1{*} by {availability-zone,role} > 0",
            "datadog_alert_cycle_key": "7716548234011234567",
            "datadog_event_id": "1234567",
        },
        starts_at=T0,
        ends_at=None,
        generator_url="https://app.datadoghq.com/event/jump_to?event_id=1234567",
        group_key="",
    )


def test_template_recovered_resolves_the_same_alert_with_the_same_labels() -> None:
    (firing,) = parse(payload("datadog", "template_triggered"))
    (resolved,) = parse(payload("datadog", "template_recovered"))

    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.labels == firing.labels
    assert (resolved.starts_at, resolved.ends_at) == (None, T1)
    assert resolved.annotations["datadog_transition"] == "Recovered"


# The default payload


def test_default_payload_is_read_from_its_title_and_message() -> None:
    (event,) = parse(payload("datadog", "default_triggered"))

    assert event == AlertEvent(
        source="dd",
        fingerprint="datadog:1234:host:ip-012345",
        status=AlertStatus.FIRING,
        labels={
            "host": "ip-012345",
            "alertname": "Host is Down",
            "severity": "high",
            "datadog_monitor_id": "1234",
            "datadog_scope": "host:ip-012345",
            "datadog_event_type": "query_alert_monitor",
        },
        annotations={
            "summary": "Host is Down on host:ip-012345",
            "description": "@webhook-url Sending to the webhook\n\n**system.load.1** over "
            "**host:ip-012345** was **> 0** at least once during the **last 1m**.",
            "datadog_transition": "Triggered",
            "datadog_event_id": "1234567",
        },
        starts_at=T0,
        generator_url="https://app.datadoghq.com/monitors/1234?group=host%3Aip-012345",
    )
    (resolved,) = parse(payload("datadog", "default_recovered"))
    assert resolved.status is AlertStatus.RESOLVED
    assert (resolved.fingerprint, resolved.labels) == (event.fingerprint, event.labels)
    assert resolved.ends_at == T1


def test_default_payload_title_gives_the_priority_and_an_old_style_monitor_link() -> None:
    body = payload("datadog", "default_triggered")
    body["title"] = "[P2] [Warn on {service:api,env:prod}] [Synthetics] Checkout"
    body["body"] = (
        "%%%\nslow\n\n- - -\n\n[[Monitor Status](https://app.datadoghq.eu/monitors#309811?)]"
    )

    (event,) = parse(body)

    assert event.labels["alertname"] == "[Synthetics] Checkout"
    assert event.labels["datadog_severity"] == "P2"
    assert event.labels["severity"] == "warning"
    assert event.labels["service"] == "api" and event.labels["env"] == "prod"
    assert event.fingerprint == "datadog:309811:env:prod,service:api"
    assert event.generator_url == "https://app.datadoghq.eu/monitors#309811?"
    assert event.annotations["description"] == "slow"


def test_without_a_monitor_id_the_name_identifies_the_monitor() -> None:
    body = payload("datadog", "default_triggered")
    body["body"] = "no links here"

    (event,) = parse(body)

    assert event.fingerprint == "datadog:name:Host is Down:host:ip-012345"
    assert "datadog_monitor_id" not in event.labels and event.generator_url == ""


# Severity, status, ignored notifications


@pytest.mark.parametrize(
    ("priority", "transition", "severity"),
    [
        ("P1", "Triggered", "critical"),
        ("P2", "Triggered", "high"),
        ("P3", "Re-Triggered", "warning"),
        ("P4", "No Data", "info"),
        ("P5", "Renotify", "info"),
        ("", "Triggered", "high"),
        ("p1", "Triggered", "critical"),
        ("P1", "Warn", "warning"),
        ("P2", "Re-Warn", "warning"),
        ("P3", "Warn", "warning"),
        ("P4", "Warn", "info"),
        ("P5", "Warn", "info"),
        ("", "Warn", "warning"),
        ("P1", "Recovered", "critical"),
    ],
)
def test_severity_table(priority: str, transition: str, severity: str) -> None:
    body = template(alert_priority=priority, alert_transition=transition, title="Host is Down")

    (event,) = parse(body)

    assert event.labels["severity"] == severity
    assert event.labels.get("datadog_severity", "") == priority.upper()


@pytest.mark.parametrize(
    ("transition", "status", "starts", "ends"),
    [
        ("Triggered", AlertStatus.FIRING, T0, None),
        ("Warn", AlertStatus.FIRING, T0, None),
        ("No Data", AlertStatus.FIRING, T0, None),
        ("Re-Triggered", AlertStatus.FIRING, None, None),
        ("Re-Warn", AlertStatus.FIRING, None, None),
        ("Re-No Data", AlertStatus.FIRING, None, None),
        ("Renotify", AlertStatus.FIRING, None, None),
        ("recovered", AlertStatus.RESOLVED, None, T0),
    ],
)
def test_transitions(
    transition: str, status: AlertStatus, starts: datetime | None, ends: datetime | None
) -> None:
    (event,) = parse(template(alert_transition=transition))

    assert (event.status, event.starts_at, event.ends_at) == (status, starts, ends)
    assert event.fingerprint == FINGERPRINT


@pytest.mark.parametrize(
    "body",
    [
        payload("datadog", "default_test_notification"),
        template(alert_transition="Null"),
        template(alert_transition="", title="Deploy of checkout finished"),
        template(alert_transition="$ALERT_TRANSITION", title="A comment", alert_title=None),
        template(alert_title="[TEST] Host is Down"),
        {"title": "An event that mentions @webhook-tocsin"},
    ],
)
def test_notifications_that_are_not_alerts_are_ignored(body: dict[str, Any]) -> None:
    parsed = datadog.parse(body, "dd")

    assert parsed.events == [] and parsed.rejected == []


# Groups, tags, variables, times


def test_each_group_is_its_own_alert_whatever_the_order_of_its_tags() -> None:
    (one,) = parse(template(alert_scope="role:computing-node,availability-zone:us-east-1a"))
    (other,) = parse(template(alert_scope="availability-zone:us-east-1b, role:computing-node"))
    (whole,) = parse(template(alert_scope="*", title="[Triggered] Host is Down"))

    assert one.fingerprint == FINGERPRINT
    assert other.fingerprint != one.fingerprint
    assert whole.fingerprint == "datadog:1234" and "datadog_scope" not in whole.labels
    assert whole.annotations["summary"] == "Host is Down"


def test_the_name_comes_from_the_alert_title_when_there_is_no_event_title() -> None:
    body = template(
        title=None,
        alert_scope="port:80,host:web-1",
        alert_title="Nginx tcp check failed on host:web-1,port:80",
    )

    (event,) = parse(body)

    assert event.labels["alertname"] == "Nginx tcp check failed"
    assert event.fingerprint == "datadog:1234:host:web-1,port:80"


def test_tags_become_labels_and_links() -> None:
    tags = "service:checkout,env:prod,team.name:payments,runbook:https://wiki.example.com/rb,"
    body = template(tags=tags + "dashboard_url:https://app.datadoghq.com/dashboard/abc,severity:x")

    (event,) = parse(body)

    assert event.labels["service"] == "checkout" and event.labels["env"] == "prod"
    assert event.labels["team_name"] == "payments"
    assert event.labels["severity"] == "critical"  # Tocsin's own labels win over tags
    assert event.annotations["runbook_url"] == "https://wiki.example.com/rb"
    assert event.annotations["dashboard_url"] == "https://app.datadoghq.com/dashboard/abc"
    (listed,) = parse(template(tags=["env:prod", 7]))
    assert listed.labels["env"] == "prod" and listed.labels["_7"] == ""


def test_unfilled_variables_and_numbers() -> None:
    body = template(alert_priority="$ALERT_PRIORITY", snapshot="$SNAPSHOT", alert_id=1234)
    body["title"] = "[Triggered] Host is Down"  # no [P1] to fall back on
    body["hostname"] = "$HOSTNAME"

    (event,) = parse(body)

    assert event.labels["severity"] == "high" and "datadog_severity" not in event.labels
    assert "panel_url" not in event.annotations and "datadog_host" not in event.labels
    assert event.fingerprint == FINGERPRINT


def test_times_in_seconds_and_from_last_updated() -> None:
    (seconds,) = parse(template(date="1406662672"))
    (updated,) = parse(template(date="", last_updated=1406662672000))

    assert seconds.starts_at == T0 and updated.starts_at == T0


def test_the_message_is_cleaned_and_cut() -> None:
    long = "%%%\n@slack-ops @webhook-tocsin\n" + "x" * 3000 + "\n%%%"

    (event,) = parse(template(body=long, alert_status=""))

    description = event.annotations["description"]
    assert description.startswith("xxx") and description.endswith("…")
    assert len(description) == 1500


# Malformed bodies

MALFORMED: list[tuple[Any, str]] = [
    ([], "payload: must be a JSON object, got array"),
    ("x", "payload: must be a JSON object, got string"),
    ({"alert_transition": "Triggered"}, "title: required"),
    ({"tags": "env:prod"}, "title: required"),
    ({"title": "[P1] [Triggered on {host:a}]"}, "title: required"),
    (template(title=None, alert_title=None), "title: required"),
    (template(title={"en": "x"}), "title: must be a string, got object"),
    (template(alert_title=["x"]), "alert_title: must be a string, got array"),
    (template(alert_transition="Alerting"), "alert_transition: unknown Datadog transition"),
    (template(alert_priority="high"), "alert_priority: must be P1 to P5 or empty, got 'high'"),
    (template(alert_id={}), "alert_id: must be a string, got object"),
    (template(alert_scope=[]), "alert_scope: must be a string, got array"),
    (template(date="yesterday"), "date: must be epoch milliseconds like 1406662672000"),
    (template(date="", last_updated="2014-07-29"), "last_updated: must be epoch milliseconds"),
    (template(date="99999999999999999"), "date: not a time that can be represented"),
    (template(date=True), "date: must be epoch milliseconds"),
    (template(tags={"env": "prod"}), "tags: must be a string of comma-separated tags"),
    (template(tags=["env:prod", None]), "tags[1]: must be a string, got null"),
    (template(body=["x"]), "body: must be a string, got array"),
    (template(link=5.5, alert_status={}), "alert_status: must be a string, got object"),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED)
def test_malformed_bodies_name_the_field(body: Any, message: str) -> None:
    with pytest.raises(InputError, match=f"^{re.escape(message)}"):
        datadog.parse(body, "dd")


FIXTURES = ["template_triggered", "template_recovered", "default_triggered"]
FIELDS = [*sorted(payload("datadog", "template_triggered")), "alert_type"]
TITLES = st.sampled_from(
    ["[P1] [Triggered on {a:b}] X", "[Warn] [TEST] Y", "[Re-No Data on {}] Z", "[", "[P9] [on {"]
)


@settings(max_examples=400, deadline=None)
@given(
    fixture=st.sampled_from(FIXTURES),
    key=st.sampled_from(FIELDS),
    value=JSON | TITLES | st.from_regex(r"\$[A-Z_]{1,8}|[0-9]{1,20}|P[0-9]", fullmatch=True),
)
def test_any_corruption_gives_an_alert_or_input_error(fixture: str, key: str, value: Any) -> None:
    body = copy.deepcopy(payload("datadog", fixture))
    body[key] = value

    try:
        events = datadog.parse(body, "dd").events
    except InputError:
        return
    assert all(isinstance(event, AlertEvent) and event.labels["alertname"] for event in events)


@settings(max_examples=200, deadline=None)
@given(body=JSON)
def test_any_json_gives_an_alert_or_input_error(body: Any) -> None:
    with contextlib.suppress(InputError):
        datadog.parse(body, "dd")


# Over HTTP


async def test_template_lifecycle_and_refusals(db: Database) -> None:
    async with served(db, SOURCE, headers=HEADERS, query="source=dd") as app:
        firing = sample("datadog", "template_triggered")
        await refused_unchanged(
            app, firing, 401, "invalid bearer token", headers={"Authorization": "Bearer forged"}
        )
        await refused_unchanged(app, firing, 401, "missing Authorization header", headers={})
        await refused_unchanged(
            app,
            sample("datadog", "template_triggered", {"tags": "env:prod"}),
            400,
            "title: required",
        )
        alert = await lifecycle(app, firing, sample("datadog", "template_recovered"))
        assert alert["fingerprint"] == FINGERPRINT
        assert alert["labels"]["alertname"] == "Host is Down"


async def test_default_payload_lifecycle(db: Database) -> None:
    async with served(db, SOURCE, headers=HEADERS) as app:
        firing, resolved = (
            sample("datadog", "default_triggered"),
            sample("datadog", "default_recovered"),
        )
        alert = await lifecycle(app, firing, resolved)
        assert alert["fingerprint"] == "datadog:1234:host:ip-012345"


async def test_service_and_environment_come_from_the_tags(db: Database) -> None:
    def tagged(name: str) -> Any:
        body = payload("datadog", name)
        body["tags"] = "monitor, service:orders, env:prod, team:checkout"
        return sample("datadog", name, body)

    async with served(db, SOURCE, headers=HEADERS) as app:
        await lifecycle(app, tagged("template_triggered"), tagged("template_recovered"))
        (incident,) = await app.incidents()
        assert (incident["service"], incident["environment"]) == ("orders", "prod")


async def test_a_test_notification_is_answered_and_not_stored(db: Database) -> None:
    async with served(db, SOURCE, headers=HEADERS) as app:
        response = await app.post(sample("datadog", "default_test_notification"))
        assert response.status_code == 200, response.text
        assert response.json()["received"] == 0
        assert await app.counts() == (0, 0)


# tocsin check


def configured(auth: dict[str, str]) -> Settings:
    config = base_config()
    source = {"name": "dd", "kind": "datadog", "auth": auth}
    return parse_settings({**config, "sources": [*config["sources"], source]}, env={})


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"hmac_secret": TOKEN}, "sources.3: auth.hmac_secret: a datadog source's sender cannot"),
        ({"bearer_token": TOKEN, "hmac_secret": TOKEN}, "sources.3: auth.hmac_secret: a datadog"),
    ],
)
def test_check_refuses_a_credential_datadog_cannot_present(
    auth: dict[str, str], message: str
) -> None:
    config = base_config()
    raw = {
        **config,
        "sources": [*config["sources"], {"name": "dd", "kind": "datadog", "auth": auth}],
    }
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, env={})
    assert message in "\n".join(caught.value.problems)


def test_check_takes_a_bearer_token_in_a_custom_header() -> None:
    config = base_config()
    auth = {"bearer_token": TOKEN, "token_header": "X-Tocsin-Token"}
    raw = {
        **config,
        "sources": [*config["sources"], {"name": "dd", "kind": "datadog", "auth": auth}],
    }
    assert parse_settings(raw, env={}).sources[-1].auth.token_header == "X-Tocsin-Token"
