"""Tencent Cloud Observability Platform alarm callbacks: the documented payloads mapped, the
level table, alarm and recovery, what is ignored, named errors, and the HTTP contract."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sources import PARSERS, tencentcloud
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import ConfigError, InputError
from bot.settings import parse_settings
from bot.store.db import Database
from tests.support import base_config
from tests.unit.sources.corrupt import DELETE, JSON, changed
from tests.unit.sources.harness import lifecycle, payload, refused_unchanged, sample, served

KIND = "tencentcloud"
TOKEN = "tencentcloud-token-Wd5Kp9Xr2Lm7Qs4Tz8Vb3"
SOURCE = {"name": "tcop", "kind": KIND, "auth": {"query_token": TOKEN}}
QUERY = f"source=tcop&token={TOKEN}"
POLICY_URL = "https://console.cloud.tencent.com/monitor/alarm/policy/detail/policy-n4exeh88"
CVM = "objId=94f1133c-46cf-4c61-a4c1-d928183aba47,unInstanceId=ins-o9p3rg3m"


def parsed(name: str, body: Any = None) -> AlertEvent:
    (event,) = tencentcloud.parse(payload(KIND, name) if body is None else body, "tcop").strict()
    return event


# The documented payloads


def test_metric_alarm_maps_every_field() -> None:
    assert parsed("metric_alarm") == AlertEvent(
        source="tcop",
        fingerprint=f"tencentcloud:policy-n4exeh88/cpu_usage/gz/{CVM}",
        status=AlertStatus.FIRING,
        labels={
            "unInstanceId": "ins-o9p3rg3m",
            "objId": "94f1133c-46cf-4c61-a4c1-d928183aba47",
            "objName": "172.21.30.15#588789",
            "alertname": "test",
            "severity": "warning",
            "tencentcloud_policy_id": "policy-n4exeh88",
            "tencentcloud_policy_type": "cvm_device",
            "tencentcloud_alarm_type": "metric",
            "tencentcloud_namespace": "qce/cvm",
            "tencentcloud_region": "gz",
            "tencentcloud_metric": "cpu_usage",
        },
        annotations={
            "summary": "CPU utilization > 90% on 172.21.30.15#588789",
            "description": "Current value 100% (threshold > 90%).\n"
            "Policy: test (CVM - basic monitoring)\n"
            "Object: 172.21.30.15#588789 in gz\n"
            "Alarming for 500 s.",
            "value": "100%",
            "threshold": "> 90%",
            "duration_seconds": "500",
            "tencentcloud_session_id": "vuRH4ZlxBJSMNJHvNZhls9HY",
        },
        starts_at=datetime(2017, 3, 8, 23, 0, tzinfo=UTC),  # 07:00 Beijing time
        ends_at=None,
        generator_url=POLICY_URL,
    )


def test_metric_recovery_closes_the_same_alert() -> None:
    alarm, recovered = parsed("metric_alarm"), parsed("metric_recovered")

    assert recovered.status is AlertStatus.RESOLVED
    assert recovered.fingerprint == alarm.fingerprint
    assert recovered.labels == alarm.labels
    assert recovered.starts_at == alarm.starts_at
    assert recovered.ends_at == datetime(2017, 3, 8, 23, 50, tzinfo=UTC)
    assert recovered.annotations["value"] == "26.14%"
    assert recovered.annotations["tencentcloud_session_id"] != "vuRH4ZlxBJSMNJHvNZhls9HY"


def test_event_alarm_and_its_recovery() -> None:
    alarm, recovered = parsed("event_alarm"), parsed("event_recovered")

    assert alarm == AlertEvent(
        source="tcop",
        fingerprint="tencentcloud:policy-n4exeh88/ping_unreachable/gz/unInstanceId=ins-pftdvqa2",
        status=AlertStatus.FIRING,
        labels={
            "unInstanceId": "ins-pftdvqa2",
            "alertname": "teset",
            "severity": "warning",
            "tencentcloud_policy_id": "policy-n4exeh88",
            "tencentcloud_policy_type": "cvm_device",
            "tencentcloud_alarm_type": "event",
            "tencentcloud_region": "gz",
            "tencentcloud_event": "ping_unreachable",
        },
        annotations={
            "summary": "ping unreachable on ins-pftdvqa2",
            "description": "Policy: teset (CVM - basic monitoring)\nObject: ins-pftdvqa2 in gz",
            "tencentcloud_session_id": "vuRH4ZlxBJSMNJHvNZhls9HY",
        },
        starts_at=datetime(2018, 6, 15, 8, 32, 6, tzinfo=UTC),
        generator_url=POLICY_URL,
    )
    assert recovered.status is AlertStatus.RESOLVED
    assert recovered.fingerprint == alarm.fingerprint and recovered.labels == alarm.labels
    assert recovered.ends_at == datetime(2018, 6, 15, 8, 40, 12, tzinfo=UTC)


def test_graded_alarm_takes_its_level_tags_and_alert_id() -> None:
    alarm, recovered = parsed("graded_alarm"), parsed("graded_recovered")

    assert alarm.labels["severity"] == "critical"
    assert alarm.labels["tencentcloud_severity"] == "Serious"
    assert (alarm.labels["service"], alarm.labels["env"], alarm.labels["team"]) == (
        "orders",
        "prod",
        "sre",
    )
    assert alarm.labels["alertname"] == "orders-cvm-cpu"
    assert alarm.annotations["tencentcloud_alert_id"] == "Kq3Vx8Lb2Nd9Rt4Wz6Hc1A_Serious"
    assert alarm.fingerprint == f"tencentcloud:policy-n4exeh88/cpu_usage/gz/{CVM}/serious"
    assert alarm.starts_at == datetime(2025, 9, 1, 19, 10, tzinfo=UTC)
    assert recovered.fingerprint == alarm.fingerprint and recovered.labels == alarm.labels
    assert recovered.status is AlertStatus.RESOLVED


def test_each_level_of_a_graded_policy_is_its_own_alert() -> None:
    serious = payload(KIND, "graded_alarm")
    warn = changed(serious, ("alarmLevel",), "Warn")

    assert parsed("", serious).fingerprint != parsed("", warn).fingerprint
    assert parsed("", warn).labels["severity"] == "warning"


def test_another_object_of_the_same_policy_is_another_alert() -> None:
    body = payload(KIND, "metric_alarm")
    other = changed(body, ("alarmObjInfo", "dimensions", "unInstanceId"), "ins-7hw5sju6")
    renamed = changed(body, ("alarmObjInfo", "dimensions", "objName"), "web-01")

    assert parsed("", other).fingerprint != parsed("", body).fingerprint
    assert parsed("", renamed).fingerprint == parsed("", body).fingerprint


# Levels


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("Serious", "critical"),
        ("SERIOUS", "critical"),
        ("严重", "critical"),
        ("Warn", "warning"),
        ("warning", "warning"),
        ("警告", "warning"),
        ("Remind", "info"),
        ("提醒", "info"),
        ("Urgent", "warning"),  # unknown: the ungraded severity, the word kept
    ],
)
def test_level_table(level: str, severity: str) -> None:
    body = changed(payload(KIND, "graded_alarm"), ("alarmLevel",), level)

    event = parsed("", body)

    assert event.labels["severity"] == severity
    assert event.labels["tencentcloud_severity"] == level


def test_level_from_alert_id_or_inside_the_policy() -> None:
    body = changed(payload(KIND, "graded_alarm"), ("alarmLevel",), DELETE)
    assert parsed("", body).labels["tencentcloud_severity"] == "Serious"

    remind = changed(body, ("alertId",), "Kq3Vx8Lb2Nd9Rt4Wz6Hc1A_Remind")
    assert parsed("", remind).labels["severity"] == "info"

    inside = changed(body, ("alarmPolicyInfo", "alarmLevel"), "提醒")
    inside = changed(inside, ("alertId",), DELETE)
    assert parsed("", inside).labels["severity"] == "info"


def test_an_ungraded_alarm_has_no_vendor_level() -> None:
    event = parsed("metric_alarm")

    assert event.labels["severity"] == "warning"
    assert "tencentcloud_severity" not in event.labels


# Shapes the callback may take


def test_numbers_where_strings_are_documented() -> None:
    body = payload(KIND, "metric_alarm")
    body["alarmStatus"] = 1
    body["alarmObjInfo"]["dimensions"]["vport"] = 443
    body["alarmPolicyInfo"]["conditions"]["currentValue"] = 99.5

    event = parsed("", body)

    assert event.status is AlertStatus.FIRING
    assert event.labels["vport"] == "443"
    assert event.annotations["value"] == "99.5%"


def test_policy_tags_as_an_object_and_a_missing_policy_id() -> None:
    body = changed(payload(KIND, "event_alarm"), ("alarmPolicyInfo", "policyId"), DELETE)
    body["alarmPolicyInfo"]["policyTags"] = {"app.name": "cart", "stage": 3}

    event = parsed("", body)

    assert event.labels["app_name"] == "cart" and event.labels["stage"] == "3"
    assert event.fingerprint.startswith("tencentcloud:teset/ping_unreachable/")
    assert event.generator_url == "https://console.cloud.tencent.com/monitor/alarm2/policy"


@pytest.mark.parametrize("body", [{}, {"sessionId": "probe"}, {"alarmStatus": None}])
def test_a_body_that_is_not_an_alarm_is_ignored(body: dict[str, Any]) -> None:
    result = tencentcloud.parse(body, "tcop")

    assert result.events == [] and result.rejected == []


# Named errors

CASES: list[tuple[str, tuple[str | int, ...], Any, str]] = [
    ("metric_alarm", (), [], "payload: must be a JSON object, got array"),
    ("metric_alarm", ("alarmStatus",), DELETE, "alarmStatus: required"),
    ("metric_alarm", ("alarmStatus",), "2", "alarmStatus: must be 1 (alarm) or 0 (recovered)"),
    ("metric_alarm", ("alarmStatus",), True, "alarmStatus: must be 1 (alarm) or 0"),
    ("metric_alarm", ("alarmPolicyInfo",), DELETE, "alarmPolicyInfo: required"),
    ("metric_alarm", ("alarmPolicyInfo",), "x", "alarmPolicyInfo: must be a JSON object"),
    (
        "metric_alarm",
        ("alarmPolicyInfo", "policyName"),
        DELETE,
        "alarmPolicyInfo.policyName: required",
    ),
    (
        "metric_alarm",
        ("alarmPolicyInfo", "policyName"),
        ["test"],
        "alarmPolicyInfo.policyName: must be a string, got array",
    ),
    (
        "metric_alarm",
        ("alarmPolicyInfo", "conditions"),
        [],
        "alarmPolicyInfo.conditions: must be a JSON object, got array",
    ),
    (
        "metric_alarm",
        ("alarmPolicyInfo", "conditions", "currentValue"),
        {},
        "alarmPolicyInfo.conditions.currentValue: must be a string, got object",
    ),
    ("metric_alarm", ("alarmObjInfo",), 5, "alarmObjInfo: must be a JSON object, got number"),
    (
        "metric_alarm",
        ("alarmObjInfo", "dimensions"),
        "ins-1",
        "alarmObjInfo.dimensions: must be a JSON object, got string",
    ),
    (
        "metric_alarm",
        ("firstOccurTime",),
        "2017-03-09T07:00:00Z",
        "firstOccurTime: must be a Beijing time like 2021-04-19 17:09:42",
    ),
    ("metric_alarm", ("firstOccurTime",), 1489014000, "firstOccurTime: must be a time string"),
    ("metric_recovered", ("recoverTime",), "2017-02-30 07:50:00", "recoverTime: not a valid"),
    ("metric_alarm", ("sessionId",), {}, "sessionId: must be a string, got object"),
    ("graded_alarm", ("alarmLevel",), [], "alarmLevel: must be a string, got array"),
    ("graded_alarm", ("policyTags",), "service:orders", "policyTags: must be an array of key"),
    ("graded_alarm", ("policyTags", 1), "env", "policyTags[1]: must be a JSON object"),
    ("graded_alarm", ("policyTags", 1, "key"), DELETE, "policyTags[1].key: required"),
    (
        "graded_alarm",
        ("policyTags", 1, "value"),
        ["prod"],
        "policyTags[1].value: must be a string, got array",
    ),
]


@pytest.mark.parametrize(("name", "path", "value", "message"), CASES)
def test_malformed_payloads_name_the_field(
    name: str, path: tuple[str | int, ...], value: Any, message: str
) -> None:
    body = value if path == () else changed(payload(KIND, name), path, value)

    with pytest.raises(InputError) as caught:
        tencentcloud.parse(body, "tcop")

    assert str(caught.value).startswith(message), str(caught.value)


FIELD = st.sampled_from(
    [
        "alarmStatus",
        "alarmLevel",
        "alertId",
        "policyTags",
        "firstOccurTime",
        "recoverTime",
        "durationTime",
        "alarmObjInfo",
        "alarmPolicyInfo",
    ]
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_arbitrary_json_raises_only_input_error(body: Any) -> None:
    with contextlib.suppress(InputError):
        tencentcloud.parse(body, "tcop")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["metric_alarm", "event_alarm", "graded_alarm"]), FIELD, JSON, JSON)
def test_arbitrary_values_in_a_real_payload_raise_only_input_error(
    name: str, field: str, top: Any, inner: Any
) -> None:
    body = payload(KIND, name)
    body["alarmPolicyInfo"]["conditions"] = inner
    body[field] = top
    with contextlib.suppress(InputError):
        tencentcloud.parse(body, "tcop")


def test_the_kind_is_registered() -> None:
    assert PARSERS[KIND] is tencentcloud.parse


# Over HTTP


async def test_metric_lifecycle(db: Database) -> None:
    async with served(db, SOURCE, query=QUERY) as app:
        alert = await lifecycle(app, sample(KIND, "metric_alarm"), sample(KIND, "metric_recovered"))
        assert alert["fingerprint"] == f"tencentcloud:policy-n4exeh88/cpu_usage/gz/{CVM}"
        assert alert["generator_url"] == POLICY_URL


async def test_event_lifecycle(db: Database) -> None:
    async with served(db, SOURCE, query=QUERY) as app:
        await lifecycle(app, sample(KIND, "event_alarm"), sample(KIND, "event_recovered"))


async def test_incident_service_and_environment_come_from_policy_tags(db: Database) -> None:
    async with served(db, SOURCE, query=QUERY) as app:
        await lifecycle(app, sample(KIND, "graded_alarm"), sample(KIND, "graded_recovered"))
        (incident,) = await app.incidents()
        assert (incident["service"], incident["environment"]) == ("orders", "prod")


async def test_the_token_in_the_url_is_required(db: Database) -> None:
    alarm = sample(KIND, "metric_alarm")
    async with served(db, SOURCE, query=QUERY) as app:
        await refused_unchanged(
            app, alarm, 401, "missing token query parameter", query="source=tcop"
        )
        await refused_unchanged(
            app, alarm, 401, "invalid token query parameter", query="source=tcop&token=forged"
        )
        await refused_unchanged(
            app,
            alarm,
            401,
            "missing token query parameter",
            query=f"source=tcop&token={TOKEN}&token=forged",
        )
        assert (await app.post(alarm)).status_code == 200


async def test_a_malformed_callback_is_refused_naming_the_field(db: Database) -> None:
    body = changed(payload(KIND, "metric_alarm"), ("alarmPolicyInfo",), DELETE)
    async with served(db, SOURCE, query=QUERY) as app:
        await refused_unchanged(app, sample(KIND, "metric_alarm", body), 400, "alarmPolicyInfo")
        await refused_unchanged(app, b"not json", 400, "not valid JSON")


async def test_a_probe_of_the_url_is_answered_and_ignored(db: Database) -> None:
    async with served(db, SOURCE, query=QUERY) as app:
        response = await app.post(b"{}")
        assert response.status_code == 200, response.text
        assert response.json()["received"] == 0
        assert await app.counts() == (0, 0)


# What `tocsin check` lets a tencentcloud source configure


@pytest.mark.parametrize(
    ("auth", "key"),
    [
        ({"bearer_token": TOKEN}, "auth.bearer_token"),
        ({"hmac_secret": TOKEN}, "auth.hmac_secret"),
        ({"query_token": TOKEN, "bearer_token": TOKEN}, "auth.bearer_token"),
    ],
)
def test_check_refuses_a_credential_tencent_cloud_cannot_send(
    auth: dict[str, str], key: str
) -> None:
    config = base_config()
    raw = {**config, "sources": [*config["sources"], {**SOURCE, "auth": auth}]}

    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, env={})

    assert f"sources.3: {key}: a tencentcloud source's sender cannot present this" in str(
        caught.value
    )
    assert "use query_token (?token= in the URL)" in str(caught.value)


def test_check_takes_a_query_token() -> None:
    config = base_config()
    settings = parse_settings({**config, "sources": [*config["sources"], SOURCE]}, env={})

    assert settings.sources[-1].auth.methods == frozenset({"query"})
