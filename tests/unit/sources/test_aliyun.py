"""Alibaba Cloud sources: ARMS alert webhooks and CloudMonitor alarm callbacks, from the samples
Alibaba Cloud documents (``tests/data/sources/aliyun``), through the parser and over HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sources import aliyun
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import ConfigError, InputError
from bot.settings import parse_settings
from bot.store.db import Database
from tests.support import base_config
from tests.unit.sources.corrupt import DELETE, JSON, changed, node_paths
from tests.unit.sources.harness import lifecycle, payload, refused_unchanged, sample, served

TOKEN = "aliyun-token-Vq7Nc2Lx9Rb4Ws6Hd3Kt8"
CALLBACK = {"name": "cms", "kind": "aliyun", "auth": {"query_token": TOKEN}}
WEBHOOK = {"name": "arms", "kind": "aliyun", "auth": {"bearer_token": TOKEN}}
BEARER = {"Authorization": f"Bearer {TOKEN}"}
CMS_RULE = "applyTemplateee147e59-664f-4033-a1be-e9595746****"
CMS_OBJECT = "{userId=110803419679****, instanceId=i-8psdh7l6lphbn10l****}"
CMS_FINGERPRINT = f"aliyun:cms:{CMS_RULE}:instanceId=i-8psdh7l6lphbn10l****,userId=110803419679****"


def parse_one(body: Any) -> AlertEvent:
    (event,) = aliyun.parse(body, "ali").strict()
    return event


# CloudMonitor alarm callbacks


def test_cloudmonitor_alarm_maps_every_field() -> None:
    assert parse_one(payload("aliyun", "cms_alert")) == AlertEvent(
        source="ali",
        fingerprint=CMS_FINGERPRINT,
        status=AlertStatus.FIRING,
        labels={
            "alertname": "Basic monitoring-ECS-Memory usage",
            "severity": "warning",
            "aliyun_severity": "WARN",
            "aliyun_product": "cloudmonitor",
            "aliyun_rule_id": CMS_RULE,
            "aliyun_namespace": "acs_ecs_dashboard",
            "aliyun_metric": "Host.mem.usedutilization",
            "aliyun_instance": "instance-name-****",
            "aliyun_region": "cn-hangzhou",
            "aliyun_group": "test_Group",
            "userId": "110803419679****",
            "instanceId": "i-8psdh7l6lphbn10l****",
        },
        annotations={
            "summary": "Basic monitoring-ECS-Memory usage on instance-name-****: 97.39%",
            "description": "Condition: $Average>=95\n"
            "Metric: acs_ecs_dashboard/Host.mem.usedutilization\n"
            "Value: 97.39 %\n"
            f"Object: {CMS_OBJECT}\n"
            "Region: China (Hangzhou)\n"
            "Application group: test_Group\n"
            "Lasted: 2 minutes",
            "value": "97.39",
            "unit": "%",
            "expression": "$Average>=95",
            "duration": "2 minutes",
            "aliyun_dimensions": CMS_OBJECT,
            "aliyun_trans_id": "53767d2a-ae72-11ed-b2ca-00163e2c****",
        },
        starts_at=datetime(2017, 10, 16, 6, 52, 40, tzinfo=UTC),
        ends_at=None,
        generator_url="",
        group_key="",
    )


def test_cloudmonitor_recovery_resolves_the_same_alarm_with_the_same_labels() -> None:
    firing = parse_one(payload("aliyun", "cms_alert"))
    ok = parse_one(payload("aliyun", "cms_ok"))

    assert ok.status is AlertStatus.RESOLVED
    assert ok.fingerprint == firing.fingerprint
    assert ok.labels == firing.labels
    assert (ok.starts_at, ok.ends_at) == (None, datetime(2017, 10, 16, 7, 2, 40, tzinfo=UTC))
    assert (
        ok.annotations["summary"]
        == "Basic monitoring-ECS-Memory usage on instance-name-****: 61.2%"
    )


def test_an_older_json_callback_with_dimensions_as_json_and_no_rule_id() -> None:
    event = parse_one(payload("aliyun", "cms_json_legacy"))

    name = "putNewAlarm_group_a37cd898-ea6b-4b7b-a8a8-de017a8327f6"
    assert event.status is AlertStatus.FIRING  # "ALARM"
    assert event.fingerprint == f"aliyun:cms:{name}:instanceId=i-12345,userId=12345"
    assert event.labels == {
        "alertname": name,
        "severity": "warning",
        "aliyun_product": "cloudmonitor",
        "aliyun_metric": "CPUUtilization",
        "userId": "12345",
        "instanceId": "i-12345",
    }
    assert event.annotations["summary"] == f"{name}: 95"


def test_insufficient_data_fires_and_says_so() -> None:
    body = payload("aliyun", "cms_alert") | {"alertState": "INSUFFICIENT_DATA"}

    event = parse_one(body)
    assert event.status is AlertStatus.FIRING
    assert event.fingerprint == CMS_FINGERPRINT
    assert event.annotations["summary"].endswith("instance-name-****: no data")


@pytest.mark.parametrize(
    ("trigger", "previous", "severity", "word"),
    [
        ("CRITICAL", "null", "critical", "CRITICAL"),
        ("WARN", "INFO", "warning", "WARN"),
        ("INFO", "null", "info", "INFO"),
        ("OK", "CRITICAL", "critical", "CRITICAL"),  # a recovery names the level it left
        ("OK", "null", "warning", None),
        ("SEVERE", "", "warning", None),
    ],
)
def test_cloudmonitor_levels(trigger: str, previous: str, severity: str, word: str | None) -> None:
    body = payload("aliyun", "cms_alert") | {"triggerLevel": trigger, "preTriggerLevel": previous}

    labels = parse_one(body).labels
    assert labels["severity"] == severity
    assert labels.get("aliyun_severity") == word


def test_each_monitored_object_is_its_own_alert_whatever_the_order_of_its_dimensions() -> None:
    body = payload("aliyun", "cms_alert")
    other = body | {"dimensions": "{userId=110803419679****, instanceId=i-other}"}
    reordered = body | {
        "dimensions": "{instanceId=i-8psdh7l6lphbn10l****, userId=110803419679****}"
    }
    as_json = body | {
        "dimensions": '{"userId":"110803419679****","instanceId":"i-8psdh7l6lphbn10l****"}'
    }

    assert parse_one(other).fingerprint != CMS_FINGERPRINT
    assert parse_one(reordered).fingerprint == CMS_FINGERPRINT
    assert parse_one(as_json).fingerprint == CMS_FINGERPRINT


def test_nulls_are_absent_milliseconds_are_read_and_unknown_fields_ignored() -> None:
    body = payload("aliyun", "cms_alert") | {
        "instanceName": "null",
        "regionId": "null",
        "regionName": "null",
        "timestamp": "1685646149981",
    }
    event = parse_one(body)
    assert "aliyun_instance" not in event.labels and "aliyun_region" not in event.labels
    assert event.starts_at == datetime(2023, 6, 1, 19, 2, 29, 981000, tzinfo=UTC)
    assert (
        event.annotations["summary"] == f"Basic monitoring-ECS-Memory usage on {CMS_OBJECT}: 97.39%"
    )

    legacy = payload("aliyun", "cms_json_legacy") | {"customLabels": [{"label": "a", "value": 1}]}
    assert parse_one(legacy).fingerprint.startswith("aliyun:cms:putNewAlarm")


# ARMS alert webhooks


def test_arms_alert_maps_every_field() -> None:
    assert parse_one(payload("aliyun", "arms_firing")) == AlertEvent(
        source="ali",
        fingerprint="aliyun:arms:bec72890cc2c7b4a027e008df0cd1013",
        status=AlertStatus.FIRING,
        labels={
            "alertname": "容器内存使用率大于80%",
            "severity": "warning",
            "aliyun_severity": "warning",
            "aliyun_product": "arms",
            "container": "kube-state-metrics",
            "instance": "10.0.80.186:10255",
            "clustername": "klyz1688-kubernetes-1",
            "pod_name": "kube-state-metrics-ccb59dbff-jljg4",
            "name": "k8s_kube-state-metrics_kube-state-metrics-ccb59dbff-jljg4_arms-prom_"
            "359508f3-7e76-4740-b915-41ea48849641_0",
            "namespace": "arms-prom",
            "aliyun_arms_alert_level": "ERROR",
            "aliyun_arms_alert_type": "101",
            "aliyun_arms_integration_name": "测试集成-prometheus",
            "aliyun_arms_userid": "1131971649496228",
            "aliyun_arms_involvedObject_name": "klyz1688-kubernetes-1",
            "aliyun_arms_involvedObject_id": "cb36dcafb9b9340498fad2e1f40b9a254",
            "aliyun_arms_region_id": "cn-hangzhou",
            "aliyun_arms_involvedObject_kind": "cluster",
            "aliyun_arms_product_type": "PROMETHEUS",
            "aliyun_arms_integration_id": "80",
            "aliyun_arms_involvedObject_type": "ManagedKubernetes",
            "aliyun_arms_alert_rule_id": "3927051",
        },
        annotations={
            "_aliyun_arms_alert_value": "15.521240234375",
            "_aliyun_arms_alert_message": "null\n消息ID: ac10c42a16124966960554200d2450-7996494\n",
            "_aliyun_arms_alert_now_value": "15.521240234375",
            "_aliyun_arms_alert_past_value": "15.521240234375",
            "message": "报警：命名空间: {{$labels.namespace}} / Pod: {{$labels.pod_name}} / 容器: "
            '{{$labels.container}} 内存使用率超>过80%, 当前值{{ printf "%.2f" $value }}%',
            "value": "15.521240234375",
            "summary": "报警：命名空间: {{$labels.namespace}} / Pod: {{$labels.pod_name}} / 容器: "
            '{{$labels.container}} 内存使用率超>过80%, 当前值{{ printf "%.2f" $value }}%',
        },
        starts_at=datetime(2021, 2, 22, 7, 18, 15, 578000, tzinfo=UTC),
        ends_at=datetime(2021, 2, 22, 7, 27, 15, 404000, tzinfo=UTC),
        generator_url="https://alerts.console.aliyun.com/#/alarm/alert/detail/2848",
        group_key="",
    )


def test_arms_resolution_closes_the_same_alert_with_the_same_labels() -> None:
    firing = parse_one(payload("aliyun", "arms_firing"))
    resolved = parse_one(payload("aliyun", "arms_resolved"))

    assert resolved.status is AlertStatus.RESOLVED
    assert (resolved.fingerprint, resolved.labels) == (firing.fingerprint, firing.labels)
    assert resolved.ends_at == datetime(2021, 2, 22, 7, 41, 15, 404000, tzinfo=UTC)
    assert resolved.annotations["value"] == "61.73828125"


def with_labels(**labels: str | None) -> Any:
    """The ARMS sample with labels set (or removed, for None)."""
    body = payload("aliyun", "arms_firing")
    alert_labels = body["alerts"][0]["labels"]
    for key, value in labels.items():
        if value is None:
            alert_labels.pop(key, None)
        else:
            alert_labels[key] = value
    return body


@pytest.mark.parametrize(
    ("labels", "severity", "word"),
    [
        ({"severity": "critical"}, "critical", "critical"),
        ({"severity": "page"}, "critical", "page"),
        ({"severity": "P1"}, "critical", "P1"),
        ({"severity": "error"}, "high", "error"),
        ({"severity": "P2"}, "high", "P2"),
        ({"severity": "Warning"}, "warning", "Warning"),
        ({"severity": "P3"}, "warning", "P3"),
        ({"severity": "info"}, "info", "info"),
        ({"severity": "P4"}, "info", "P4"),
        ({"severity": "P6"}, "info", "P6"),
        ({"severity": None}, "high", "ERROR"),  # ARMS's own level when the rule sets none
        ({"severity": None, "_aliyun_arms_alert_level": None}, "warning", None),
        ({"severity": "disaster"}, "warning", "disaster"),
    ],
)
def test_arms_levels(labels: dict[str, str | None], severity: str, word: str | None) -> None:
    event = parse_one(with_labels(**labels))
    assert event.labels["severity"] == severity
    assert event.labels.get("aliyun_severity") == word


def test_an_arms_application_alert_names_its_application() -> None:
    body = with_labels(
        _aliyun_arms_involvedObject_kind="app", _aliyun_arms_involvedObject_name="payments"
    )
    assert parse_one(body).labels["aliyun_app"] == "payments"
    assert "aliyun_app" not in parse_one(payload("aliyun", "arms_firing")).labels


def test_arms_links_and_texts() -> None:
    body = payload("aliyun", "arms_firing")
    alert = body["alerts"][0]
    alert["generatorURL"] = "https://prometheus.example.com/graph?g0.expr=up"
    alert["annotations"]["message"] = "内存使用率超过80%\n当前值 92%"

    event = parse_one(body)
    assert event.generator_url == body["externalURL"]
    assert event.annotations["aliyun_generator_url"] == alert["generatorURL"]
    assert event.annotations["summary"] == "内存使用率超过80%"
    assert event.annotations["description"] == "内存使用率超过80%\n当前值 92%"

    del body["externalURL"]
    assert parse_one(body).generator_url == alert["generatorURL"]
    alert["annotations"] |= {"summary": "rule's own", "description": "rule's own text"}
    assert parse_one(body).annotations["summary"] == "rule's own"


def test_a_bad_arms_alert_is_refused_alone_and_an_empty_body_is_nothing() -> None:
    body = payload("aliyun", "arms_firing")
    body["alerts"].append(changed(body["alerts"][0], ("status",), "pending"))

    parsed = aliyun.parse(body, "ali")
    assert len(parsed.events) == 1
    (refused,) = parsed.rejected
    assert refused.where == "alerts[1]" and refused.name == "容器内存使用率大于80%"
    assert refused.error.startswith('alerts[1].status: must be "firing" or "resolved"')

    empty = aliyun.parse(body | {"alerts": []}, "ali")
    assert (empty.events, empty.rejected) == ([], [])


# Malformed bodies


MALFORMED: list[tuple[str, tuple[str | int, ...], Any, str]] = [
    ("cms_alert", ("alertName",), DELETE, "alertName: required"),
    ("cms_alert", ("alertName",), "null", "alertName: required"),
    ("cms_alert", ("alertState",), "MAYBE", "alertState: must be ALERT, OK or INSUFFICIENT_DATA"),
    ("cms_alert", ("alertState",), DELETE, "alertState: must be ALERT, OK or INSUFFICIENT_DATA"),
    ("cms_alert", ("timestamp",), "yesterday", "timestamp: must be unix seconds or milliseconds"),
    (
        "cms_alert",
        ("timestamp",),
        "999999999999999",
        "timestamp: not a time that can be represented",
    ),
    ("cms_alert", ("dimensions",), '[{"userId": ', "dimensions: not valid JSON"),
    ("cms_json_legacy", ("curValue",), {}, "curValue: must be a string, got object"),
    ("cms_json_legacy", ("alertName",), ["x"], "alertName: must be a string, got array"),
    (
        "cms_json_legacy",
        ("dimensions", 0),
        3,
        "dimensions: must be an object of strings, got number",
    ),
    ("cms_json_legacy", ("dimensions", 0, "userId"), [], "dimensions[0].userId: must be a string"),
    ("arms_firing", ("alerts",), "x", "alerts: must be an array, got string"),
    ("arms_firing", ("alerts", 0), 3, "alerts[0]: must be a JSON object, got number"),
    ("arms_firing", ("alerts", 0, "status"), DELETE, "alerts[0].status: required"),
    ("arms_firing", ("alerts", 0, "labels"), DELETE, "alerts[0].labels: required"),
    ("arms_firing", ("alerts", 0, "labels", "alertname"), DELETE, "alerts[0].labels.alertname"),
    ("arms_firing", ("alerts", 0, "labels", "pod_name"), {}, "alerts[0].labels: must be an"),
    ("arms_firing", ("alerts", 0, "startsAt"), 5, "alerts[0].startsAt: must be an RFC 3339"),
    ("arms_firing", ("alerts", 0, "fingerprint"), 5, "alerts[0].fingerprint: must be a string"),
    ("arms_firing", ("externalURL",), 5, "externalURL: must be a string, got number"),
    ("arms_firing", (), [], "payload: must be a JSON object, got array"),
    ("arms_firing", (), {"receiver": "x"}, "alerts: required"),
]


@pytest.mark.parametrize(("fixture", "path", "value", "message"), MALFORMED)
def test_malformed_input_names_the_field(
    fixture: str, path: tuple[str | int, ...], value: Any, message: str
) -> None:
    body = value if path == () else changed(payload("aliyun", fixture), path, value)

    with pytest.raises(InputError, match=f"^{re.escape(message)}"):
        aliyun.parse(body, "ali").strict()


FIXTURES = ["cms_alert", "cms_ok", "cms_json_legacy", "arms_firing", "arms_resolved"]


@settings(max_examples=400, deadline=None)
@given(fixture=st.sampled_from(FIXTURES), data=st.data())
def test_any_corruption_gives_events_or_input_error(fixture: str, data: st.DataObject) -> None:
    body = payload("aliyun", fixture)
    path = data.draw(st.sampled_from(node_paths(body)))
    corrupted = data.draw(JSON) if path == () else changed(body, path, data.draw(JSON))

    try:
        events = aliyun.parse(corrupted, "ali").strict()
    except InputError:
        return
    assert all(isinstance(event, AlertEvent) for event in events)


@settings(max_examples=200, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["alertName", "alertState", "dimensions", "timestamp", "triggerLevel"]),
        st.text(max_size=24),
    )
)
def test_any_form_gives_an_event_or_input_error(fields: dict[str, str]) -> None:
    try:
        events = aliyun.parse(fields, "ali").strict()
    except InputError:
        return
    assert all(isinstance(event, AlertEvent) for event in events)


# Over HTTP


async def test_cloudmonitor_callback_lifecycle(db: Database) -> None:
    async with served(db, CALLBACK, query=f"source=cms&token={TOKEN}") as app:
        alert = await lifecycle(app, sample("aliyun", "cms_alert"), sample("aliyun", "cms_ok"))
        assert alert["fingerprint"] == CMS_FINGERPRINT
        assert alert["labels"]["aliyun_product"] == "cloudmonitor"


async def test_arms_webhook_lifecycle(db: Database) -> None:
    async with served(db, WEBHOOK, headers=BEARER, query="source=arms") as app:
        firing, resolved = sample("aliyun", "arms_firing"), sample("aliyun", "arms_resolved")
        alert = await lifecycle(app, firing, resolved)
        assert alert["fingerprint"] == "aliyun:arms:bec72890cc2c7b4a027e008df0cd1013"
        assert (
            alert["generator_url"] == "https://alerts.console.aliyun.com/#/alarm/alert/detail/2848"
        )


async def test_service_and_environment_come_from_dimensions(db: Database) -> None:
    dimensions = "{userId=110803419679****, service=payments, env=prod}"
    base = payload("aliyun", "cms_alert") | {"dimensions": dimensions}
    firing = sample("aliyun", "cms_alert", base)
    resolved = sample("aliyun", "cms_ok", payload("aliyun", "cms_ok") | {"dimensions": dimensions})

    async with served(db, CALLBACK, query=f"source=cms&token={TOKEN}") as app:
        await lifecycle(app, firing, resolved)
        (incident,) = await app.incidents()
        assert (incident["service"], incident["environment"]) == ("payments", "prod")


async def test_an_arms_application_gives_the_service_when_told(db: Database) -> None:
    app_labels = {
        "_aliyun_arms_involvedObject_kind": "app",
        "_aliyun_arms_involvedObject_name": "orders",
        "env": "staging",
    }
    src = {**WEBHOOK, "service_from": ["aliyun_app"]}

    def request(name: str) -> Any:
        body = payload("aliyun", name)
        body["alerts"][0]["labels"] |= app_labels
        return sample("aliyun", name, body)

    async with served(db, src, headers=BEARER, query="source=arms") as app:
        await lifecycle(app, request("arms_firing"), request("arms_resolved"))
        (incident,) = await app.incidents()
        assert (incident["service"], incident["environment"]) == ("orders", "staging")


async def test_a_callback_without_the_right_token_is_refused(db: Database) -> None:
    alarm = sample("aliyun", "cms_alert")
    async with served(db, CALLBACK, query=f"source=cms&token={TOKEN}") as app:
        forged = "source=cms&token=aliyun-token-forged"
        await refused_unchanged(app, alarm, 401, "invalid token query parameter", query=forged)
        await refused_unchanged(
            app, alarm, 401, "missing token query parameter", query="source=cms"
        )
        assert await app.counts() == (0, 0)


async def test_a_webhook_without_the_right_bearer_token_is_refused(db: Database) -> None:
    firing = sample("aliyun", "arms_firing")
    async with served(db, WEBHOOK, headers=BEARER, query="source=arms") as app:
        forged = {"Authorization": "Bearer aliyun-token-forged"}
        await refused_unchanged(app, firing, 401, "invalid bearer token", headers=forged)
        await refused_unchanged(app, firing, 401, "missing Authorization header", headers={})
        assert await app.counts() == (0, 0)


async def test_malformed_bodies_are_refused_naming_the_field(db: Database) -> None:
    nameless = payload("aliyun", "cms_alert")
    del nameless["alertName"]
    statusless = payload("aliyun", "arms_firing")
    del statusless["alerts"][0]["status"]

    async with served(db, CALLBACK, query=f"source=cms&token={TOKEN}") as app:
        await refused_unchanged(
            app, sample("aliyun", "cms_alert", nameless), 400, "alertName: required"
        )
    async with served(db, WEBHOOK, headers=BEARER, query="source=arms") as app:
        bad = sample("aliyun", "arms_firing", statusless)
        await refused_unchanged(app, bad, 400, "alerts[0].status: required")
        await refused_unchanged(app, b"$alertmanager_content x", 400, "body is not valid JSON")
        tested = await app.post(b"$alertmanager_content\n", content_type="text/plain")
        assert tested.status_code == 200 and tested.json()["received"] == 0, tested.text
        assert await app.counts() == (0, 0)


async def test_a_notification_without_alerts_is_answered_and_ignored(db: Database) -> None:
    empty = payload("aliyun", "arms_firing") | {"alerts": []}
    async with served(db, WEBHOOK, headers=BEARER, query="source=arms") as app:
        response = await app.post(sample("aliyun", "arms_firing", empty))
        assert response.status_code == 200, response.text
        assert response.json()["received"] == 0
        assert await app.counts() == (0, 0)


# What `tocsin check` lets an aliyun source configure


@pytest.mark.parametrize(
    ("auth", "key"),
    [
        ({"hmac_secret": TOKEN}, "hmac_secret"),
        ({"query_token": TOKEN, "hmac_secret": TOKEN}, "hmac_secret"),
    ],
)
def test_check_refuses_a_signature_alibaba_cloud_cannot_send(
    auth: dict[str, str], key: str
) -> None:
    config = base_config()
    source = {"name": "ali", "kind": "aliyun", "auth": auth}
    with pytest.raises(ConfigError) as caught:
        parse_settings({**config, "sources": [*config["sources"], source]}, env={})
    (problem,) = caught.value.problems
    assert problem.startswith("sources.3") and f"auth.{key}: a aliyun source's sender" in problem
    assert "use bearer_token (a header the sender sets) or query_token" in problem


@pytest.mark.parametrize("auth", [{"query_token": TOKEN}, {"bearer_token": TOKEN}])
def test_check_accepts_a_token_in_the_url_or_a_header(auth: dict[str, str]) -> None:
    config = base_config()
    source = {"name": "ali", "kind": "aliyun", "auth": auth}
    settings_ = parse_settings({**config, "sources": [*config["sources"], source]}, env={})
    assert settings_.sources[-1].kind == "aliyun"
