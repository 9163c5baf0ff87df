"""The Zabbix source: the shipped media type's script (run in Duktape, Zabbix's engine) and
the parser agree, and the whole route holds the shared source contract.

Each data file holds the media type's parameters as Zabbix resolves them for one
notification (``parameters``) and the body the script posts for them (``payload``).
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dukpy
import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sources import PARSERS, zabbix
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import ConfigError, InputError
from bot.settings.loader import parse_settings
from bot.store.db import Database
from tests.support import base_config
from tests.unit.sources.corrupt import DELETE, JSON
from tests.unit.sources.harness import DATA, Sample, lifecycle, refused_unchanged, served

REPO = Path(__file__).resolve().parents[3]
MEDIA_TYPE = REPO / "config" / "zabbix" / "media_tocsin.yaml"
TOKEN = "zabbix-token-Wd8Kq3Xv6Lm2Rt9Hs4Pb7"
SOURCE = {"name": "zabbix", "kind": "zabbix", "auth": {"bearer_token": TOKEN}}
NAMES = ("problem", "recovery", "update")

# What Zabbix gives a webhook's script: `value` (the parameters as a JSON object),
# `HttpRequest` (`CurlHttpRequest` before 5.4) and `Zabbix.log`. This shim records the
# requests and log lines and answers with the status the test chooses.
SHIM = """
var requests = [], logs = [];
function HttpRequest() { this.headers = []; this.proxy = ''; }
HttpRequest.prototype.addHeader = function (header) { this.headers.push(header); };
HttpRequest.prototype.setProxy = function (proxy) { this.proxy = proxy; };
HttpRequest.prototype.post = function (url, data) {
    requests.push({url: url, headers: this.headers, proxy: this.proxy, body: data});
    return dukpy.response;
};
HttpRequest.prototype.getStatus = function () { return dukpy.status; };
var CurlHttpRequest = HttpRequest;
var Zabbix = {log: function (level, message) { logs.push([level, String(message)]); }};
Zabbix.Log = Zabbix.log;
"""


def media_type() -> dict[str, Any]:
    exported = yaml.safe_load(MEDIA_TYPE.read_text(encoding="utf-8"))
    (media,) = exported["zabbix_export"]["media_types"]
    return dict(media)


def run_script(
    parameters: dict[str, str], *, status: int = 200, response: str = '{"received": 1}'
) -> dict[str, Any]:
    """The media type's script run on `parameters`: its result or error, its requests, its log."""
    script = media_type()["script"]
    program = (
        SHIM
        + "var outcome;\ntry {\n  outcome = {result: (function (value) {\n"
        + script
        + "\n  })(dukpy.value)};\n} catch (error) {\n  outcome = {error: String(error)};\n}\n"
        + "JSON.stringify({outcome: outcome, requests: requests, logs: logs});"
    )
    value = json.dumps(parameters)
    return dict(json.loads(dukpy.evaljs(program, value=value, status=status, response=response)))


def data(name: str) -> dict[str, Any]:
    return dict(json.loads((DATA / "zabbix" / f"{name}.json").read_text(encoding="utf-8")))


def posted(name: str, parameters: dict[str, str] | None = None) -> tuple[Sample, dict[str, str]]:
    """What the script sends for `name`'s parameters: the request, and its headers."""
    raw = data(name)
    run = run_script(raw["parameters"] if parameters is None else parameters)
    assert run["outcome"] == {"result": "OK"}, run
    (request,) = run["requests"]
    headers = dict(h.split(": ", 1) for h in request["headers"])
    body = request["body"].encode()
    return Sample(raw["source"], json.loads(body), body, headers["Content-Type"]), headers


def parse_one(payload: Any) -> AlertEvent:
    (event,) = zabbix.parse(payload, "zbx").strict()
    return event


def changed(payload: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    result = copy.deepcopy(payload)
    if value is DELETE:
        del result[key]
    else:
        result[key] = value
    return result


# The media type and its script


def test_the_media_type_is_a_zabbix_webhook_export() -> None:
    exported = yaml.safe_load(MEDIA_TYPE.read_text(encoding="utf-8"))["zabbix_export"]
    media = media_type()

    assert exported["version"] == "6.0"
    assert media["type"] == "WEBHOOK"
    modes = {(t["event_source"], t["operation_mode"]) for t in media["message_templates"]}
    assert modes == {("TRIGGERS", "PROBLEM"), ("TRIGGERS", "RECOVERY"), ("TRIGGERS", "UPDATE")}
    parameters = {p["name"] for p in media["parameters"]}
    for name in NAMES:
        assert set(data(name)["parameters"]) == parameters


@pytest.mark.parametrize("name", NAMES)
def test_the_script_posts_the_recorded_payload(name: str) -> None:
    raw = data(name)

    run = run_script(raw["parameters"])

    assert run["outcome"] == {"result": "OK"}
    (request,) = run["requests"]
    assert request["url"] == raw["parameters"]["tocsin_url"]
    assert request["headers"] == [
        "Content-Type: application/json",
        f"Authorization: Bearer {TOKEN}",
    ]
    assert request["proxy"] == ""
    assert json.loads(request["body"]) == raw["payload"]
    assert all(TOKEN not in line for _, line in run["logs"])


def test_the_script_sends_unresolved_macros_empty_and_tags_as_an_array() -> None:
    body = data("problem")["payload"]

    assert body["event_recovery_id"] == "" and body["event_recovery_timestamp"] == ""
    assert body["event_tags"][0] == {"tag": "class", "value": "os"}
    assert "tocsin_token" not in body and "tocsin_url" not in body and "HTTPProxy" not in body


def test_the_script_uses_the_proxy_and_fails_on_an_error_status() -> None:
    parameters = {**data("problem")["parameters"], "HTTPProxy": "http://proxy.example.com:3128"}

    run = run_script(parameters, status=401, response='{"error": "invalid bearer token"}')

    assert run["requests"][0]["proxy"] == "http://proxy.example.com:3128"
    assert run["outcome"]["error"] == (
        'Sending to Tocsin failed: Tocsin answered HTTP 401: {"error": "invalid bearer token"}'
    )
    assert run["logs"][-1][0] == 3


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("tocsin_token", "<the source's bearer_token>", 'Parameter "tocsin_token" is not set.'),
        ("tocsin_url", " ", 'Parameter "tocsin_url" is not set.'),
        ("event_tags", "[{", 'Parameter "event_tags" is not JSON'),
    ],
)
def test_the_script_refuses_unset_parameters_without_sending(
    key: str, value: str, error: str
) -> None:
    run = run_script({**data("problem")["parameters"], key: value})

    assert run["requests"] == []
    assert run["outcome"]["error"].startswith(f"Sending to Tocsin failed: {error}")


# The parser


def test_a_problem_maps_every_field() -> None:
    event = parse_one(data("problem")["payload"])

    assert event == AlertEvent(
        source="zbx",
        fingerprint="zabbix:1234567",
        status=AlertStatus.FIRING,
        labels={
            "class": "os",
            "component": "cpu",
            "scope": "performance",
            "target": "linux",
            "service": "checkout",
            "env": "prod",
            "alertname": "High CPU utilization (over 90% for 5m)",
            "severity": "warning",
            "zabbix_severity": "Warning",
            "zabbix_host": "web-01",
            "zabbix_host_groups": "Linux servers, Shop/Prod",
            "zabbix_trigger_id": "23456",
        },
        annotations={
            "summary": "Web server 01: High CPU utilization (over 90% for 5m)",
            "description": "CPU utilization is too high. The system might be slow to respond.\n"
            "Host: Web server 01\nSeverity: Warning\n"
            "Operational data: Current utilization: 95.1 %\nStarted: 2026.01.05 11:00:00",
            "value": "Current utilization: 95.1 %",
            "runbook_url": "https://wiki.example.com/runbooks/high-cpu",
            "host_name": "Web server 01",
            "zabbix_event_id": "1234567",
        },
        starts_at=datetime(2026, 1, 5, 3, 0, tzinfo=UTC),
        ends_at=None,
        generator_url="https://zabbix.example.com/tr_events.php?triggerid=23456&eventid=1234567",
        group_key="",
    )


def test_a_recovery_resolves_the_same_alert_with_the_same_labels() -> None:
    problem = parse_one(data("problem")["payload"])

    event = parse_one(data("recovery")["payload"])

    assert event.status is AlertStatus.RESOLVED
    assert event.fingerprint == problem.fingerprint
    assert event.labels == problem.labels
    assert event.starts_at == problem.starts_at
    assert event.ends_at == datetime(2026, 1, 5, 3, 25, tzinfo=UTC)
    assert event.generator_url == problem.generator_url
    assert event.annotations["zabbix_recovery_event_id"] == "1234601"
    assert event.annotations["value"] == "Current utilization: 41.7 %"
    assert event.annotations["description"].startswith("Resolved at 2026.01.05 11:25:00")


def test_two_problems_of_one_trigger_are_two_alerts() -> None:
    payload = data("problem")["payload"]
    other = {**payload, "event_id": "1234999", "host_host": "web-02"}

    assert parse_one(other).fingerprint == "zabbix:1234999" != parse_one(payload).fingerprint


@pytest.mark.parametrize(
    ("number", "word", "severity"),
    [
        ("0", "Not classified", "info"),
        ("1", "Information", "info"),
        ("2", "Warning", "warning"),
        ("3", "Average", "warning"),
        ("4", "High", "high"),
        ("5", "Disaster", "critical"),
    ],
)
def test_severity_table(number: str, word: str, severity: str) -> None:
    payload = {**data("problem")["payload"], "event_nseverity": number, "event_severity": ""}

    event = parse_one(payload)

    assert event.labels["severity"] == severity
    assert event.labels["zabbix_severity"] == word


def test_a_renamed_severity_keeps_zabbix_word_and_number_decides() -> None:
    payload = {**data("problem")["payload"], "event_nseverity": 5, "event_severity": "灾难"}

    event = parse_one(payload)

    assert event.labels["severity"] == "critical"
    assert event.labels["zabbix_severity"] == "灾难"


def test_updates_and_other_event_sources_are_ignored() -> None:
    assert zabbix.parse(data("update")["payload"], "zbx").events == []
    assert zabbix.parse({}, "zbx").events == []  # the media type's Test: no source, id, value
    for source in ("1", "2", "3", "4"):
        parsed = zabbix.parse({**data("problem")["payload"], "event_source": source}, "zbx")
        assert parsed.events == [] and parsed.rejected == []


def test_tags_become_labels_but_not_over_tocsin_s_own() -> None:
    payload = data("problem")["payload"]
    payload["event_tags"] = [
        {"tag": "Service.Name", "value": "cart"},
        {"tag": "team", "value": ""},
        {"tag": "team", "value": "payments"},
        {"tag": "severity", "value": "low"},
        {"tag": "alertname", "value": "x"},
        {"tag": "zabbix_host", "value": "spoofed"},
        {"tag": "__zbx_ops_issuekey", "value": "OPS-17"},
        {"tag": "port", "value": 443},
    ]

    labels = parse_one(payload).labels

    assert labels["Service_Name"] == "cart"
    assert labels["team"] == ""
    assert labels["port"] == "443"
    assert labels["severity"] == "warning" and labels["zabbix_host"] == "web-01"
    assert labels["alertname"] == "High CPU utilization (over 90% for 5m)"
    assert not any(name.startswith("_") for name in labels)


def test_sparse_notification_needs_only_the_identity_fields() -> None:
    payload = {"event_id": "7", "event_value": "1", "event_name": "Ping", "event_nseverity": "4"}

    event = parse_one(payload)

    assert event.labels == {
        "alertname": "Ping",
        "severity": "high",
        "zabbix_severity": "High",
    }
    assert event.annotations == {"summary": "Ping", "zabbix_event_id": "7"}
    assert event.generator_url == "" and event.starts_at is None


def test_registry_names_the_parser() -> None:
    assert PARSERS["zabbix"] is zabbix.parse


MALFORMED: list[tuple[str, Any, str]] = [
    ("event_id", DELETE, "event_id: required"),
    ("event_id", "", "event_id: required"),
    ("event_id", "{EVENT.ID}", "event_id: must be a Zabbix ID (digits), got '{EVENT.ID}'"),
    ("event_id", [], "event_id: must be a string, got array"),
    ("event_value", DELETE, "event_value: required"),
    ("event_value", "2", 'event_value: must be "1" (problem) or "0" (recovery), got \'2\''),
    ("event_name", "", "event_name: required"),
    ("event_name", {"en": "x"}, "event_name: must be a string, got object"),
    ("event_nseverity", DELETE, "event_nseverity: required"),
    ("event_nseverity", "6", "event_nseverity: must be 0 to 5, got '6'"),
    ("event_update_status", "yes", 'event_update_status: must be "0" or "1", got \'yes\''),
    ("event_source", None, ""),
    ("event_tags", "class:os", "event_tags: must be an array of tags, got string"),
    ("event_tags", [7], "event_tags[0]: must be a JSON object, got number"),
    ("event_tags", [{"value": "x"}], "event_tags[0].tag: must be a non-empty string, got None"),
    ("event_tags", [{"tag": "a", "value": []}], "event_tags[0].value: must be a string, got array"),
    ("event_timestamp", "2026-01-05", "event_timestamp: must be unix seconds, got '2026-01-05'"),
    ("event_timestamp", "9" * 12, "event_timestamp: must be unix seconds"),
    ("trigger_id", "abc", "trigger_id: must be a Zabbix ID (digits), got 'abc'"),
    ("host_host", True, ""),
    ("zabbix_url", None, ""),
]


@pytest.mark.parametrize(("key", "value", "message"), MALFORMED)
def test_malformed_input_names_the_field(key: str, value: Any, message: str) -> None:
    payload = changed(data("problem")["payload"], key, value)

    if not message:  # tolerated: a null or a scalar where a string belongs
        assert len(zabbix.parse(payload, "zbx").events) == 1
        return
    with pytest.raises(InputError, match=f"^{re.escape(message)}"):
        zabbix.parse(payload, "zbx")


def test_recovery_timestamp_is_checked_only_on_a_recovery() -> None:
    recovery = changed(data("recovery")["payload"], "event_recovery_timestamp", "soon")

    with pytest.raises(InputError, match=r"^event_recovery_timestamp: must be unix seconds"):
        zabbix.parse(recovery, "zbx")
    problem = changed(data("problem")["payload"], "event_recovery_timestamp", "soon")
    assert parse_one(problem).ends_at is None


@pytest.mark.parametrize("payload", [[], None, "x", 3, True])
def test_a_body_that_is_not_an_object_is_named(payload: Any) -> None:
    with pytest.raises(InputError, match=r"^payload: must be a JSON object"):
        zabbix.parse(payload, "zbx")


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    key=st.sampled_from([*data("problem")["payload"], "anything"]),
    value=JSON,
    index=st.integers(min_value=-1, max_value=6),
)
def test_any_corruption_gives_events_or_input_error(
    name: str, key: str, value: Any, index: int
) -> None:
    payload = copy.deepcopy(data(name)["payload"])
    if index >= 0 and key == "event_tags":
        payload["event_tags"][index % len(payload["event_tags"])] = value
    else:
        payload[key] = value

    try:
        parsed = zabbix.parse(payload, "zbx")
    except InputError:
        return
    assert all(isinstance(event, AlertEvent) for event in parsed.events)


@settings(max_examples=200, deadline=None)
@given(payload=JSON)
def test_any_json_gives_events_or_input_error(payload: Any) -> None:
    try:
        zabbix.parse(payload, "zbx")
    except InputError:
        return


# Over HTTP: the script's own requests through the route


async def test_lifecycle_from_the_script_s_requests(db: Database) -> None:
    firing, headers = posted("problem")
    resolved, _ = posted("recovery")

    async with served(db, SOURCE, headers=headers, query="source=zabbix") as app:
        alert = await lifecycle(app, firing, resolved)
        (incident,) = await app.incidents()

    assert alert["fingerprint"] == "zabbix:1234567"
    assert alert["labels"]["zabbix_host"] == "web-01"
    assert incident["service"] == "checkout"
    assert incident["environment"] == "prod"


async def test_service_and_env_follow_the_source_s_tag_names(db: Database) -> None:
    parameters = dict(data("problem")["parameters"])
    parameters["event_tags"] = json.dumps(
        [{"tag": "Application", "value": "orders"}, {"tag": "Stage", "value": "staging"}]
    )
    firing, headers = posted("problem", parameters)
    source = {**SOURCE, "service_from": ["Application"], "env_from": ["Stage"]}

    async with served(db, source, headers=headers) as app:
        response = await app.post(firing)
        assert response.status_code == 200, response.text
        (incident,) = await app.incidents()

    assert (incident["service"], incident["environment"]) == ("orders", "staging")


async def test_default_tag_names_give_service_and_env(db: Database) -> None:
    parameters = dict(data("problem")["parameters"])
    parameters["event_tags"] = json.dumps(
        [{"tag": "application", "value": "payments"}, {"tag": "environment", "value": "prod"}]
    )
    firing, headers = posted("problem", parameters)

    async with served(db, SOURCE, headers=headers) as app:
        assert (await app.post(firing)).status_code == 200
        (incident,) = await app.incidents()

    assert (incident["service"], incident["environment"]) == ("payments", "prod")


async def test_credentials_are_required(db: Database) -> None:
    firing, headers = posted("problem")

    async with served(db, SOURCE, headers=headers) as app:
        await refused_unchanged(
            app, firing, 401, "invalid bearer token", headers={"Authorization": "Bearer nope"}
        )
        await refused_unchanged(app, firing, 401, "missing Authorization header", headers={})
        assert (await app.post(firing)).status_code == 200


async def test_a_query_token_in_the_url_replaces_the_header(db: Database) -> None:
    url = f"https://tocsin.example.com/api/v1/alerts/zabbix?source=zabbix&token={TOKEN}"
    parameters = {**data("problem")["parameters"], "tocsin_url": url, "tocsin_token": ""}
    firing, headers = posted("problem", parameters)
    source = {"name": "zabbix", "kind": "zabbix", "auth": {"query_token": TOKEN}}

    assert "Authorization" not in headers
    async with served(db, source, headers=headers, query=f"source=zabbix&token={TOKEN}") as app:
        await refused_unchanged(
            app, firing, 401, "invalid token query parameter", query="token=nope"
        )
        assert (await app.post(firing)).json()["opened"] == 1


async def test_a_malformed_notification_is_refused_naming_the_field(db: Database) -> None:
    payload = changed(data("problem")["payload"], "event_nseverity", DELETE)
    body = orjson.dumps(payload)
    bad = Sample("https://example.invalid/", payload, body, "application/json")
    _, headers = posted("problem")

    async with served(db, SOURCE, headers=headers) as app:
        await refused_unchanged(app, bad, 400, "event_nseverity: required")


def button_parameters(**values: str) -> dict[str, str]:
    """The media type's parameters as its Test button sends them: the macros unresolved."""
    defaults = {p["name"]: str(p["value"]) for p in media_type()["parameters"]}
    return {**defaults, **values}


async def test_the_media_type_s_test_button_is_taken_and_stores_nothing(db: Database) -> None:
    probe, headers = posted("problem", button_parameters(tocsin_token=TOKEN))

    assert probe.payload["event_id"] == "" and probe.payload["event_tags"] == []
    async with served(db, SOURCE, headers=headers) as app:
        response = await app.post(probe)
        assert response.status_code == 200, response.text
        assert response.json()["received"] == 0
        assert await app.counts() == (0, 0)
        await refused_unchanged(
            app, probe, 401, "invalid bearer token", headers={"Authorization": "Bearer x"}
        )


async def test_an_update_is_taken_and_stores_nothing(db: Database) -> None:
    update, headers = posted("update")

    async with served(db, SOURCE, headers=headers) as app:
        response = await app.post(update)
        assert response.status_code == 200, response.text
        assert response.json()["received"] == 0
        assert await app.counts() == (0, 0)


# Settings


@pytest.mark.parametrize(
    ("auth", "key"),
    [
        ({"hmac_secret": "zabbix-hmac-Rw4Tq8Ls2Vk6Pn3Xd9"}, "auth.hmac_secret"),
        (
            {"bearer_token": TOKEN, "hmac_secret": "zabbix-hmac-Rw4Tq8Ls2Vk6Pn3Xd9"},
            "auth.hmac_secret",
        ),
    ],
)
def test_a_credential_zabbix_cannot_send_is_refused_naming_the_key(
    auth: dict[str, str], key: str
) -> None:
    raw = base_config()
    raw["sources"].append({"name": "zbx", "kind": "zabbix", "auth": auth})

    with pytest.raises(ConfigError) as info:
        parse_settings(raw, env={})

    [problem] = info.value.problems
    assert problem.startswith(f"sources.3: {key}: a zabbix source's sender cannot present this")


def test_a_bearer_token_or_query_token_is_taken() -> None:
    raw = base_config()
    raw["sources"].append({"name": "zbx", "kind": "zabbix", "auth": {"bearer_token": TOKEN}})
    raw["sources"].append({"name": "zbx2", "kind": "zabbix", "auth": {"query_token": TOKEN}})

    settings_ = parse_settings(raw, env={})

    assert [s.kind for s in settings_.sources][-2:] == ["zabbix", "zabbix"]
