"""Nightingale (夜莺) alert events: documented payloads in, `AlertEvent`s or a named
`InputError` out; the HTTP contract through the shared harness; the credentials it can send."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sources import PARSERS, nightingale
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import ConfigError, InputError
from bot.settings.loader import parse_settings
from bot.store.db import Database
from tests.support import TOKEN, base_config
from tests.unit.sources.corrupt import DELETE, JSON, changed, node_paths
from tests.unit.sources.harness import Sample, lifecycle, payload, refused_unchanged, sample, served

KIND = "nightingale"
QUERY = 'cpu_usage_active{ident="ulric-flashcat.local"} > 0'
ORDERS_QUERY = (
    'sum(rate(http_requests_total{service="orders",code=~"5.."}[2m])) / '
    'sum(rate(http_requests_total{service="orders"}[2m])) > 0.05'
)


def parse(body: Any) -> list[AlertEvent]:
    return nightingale.parse(body, "n9e").strict()


# The documented payloads


def test_registered_under_its_kind() -> None:
    assert PARSERS[KIND] is nightingale.parse


def test_a_callback_processor_event_maps_every_field() -> None:
    (event,) = parse(payload(KIND, "v8_callback_processor"))

    assert event == AlertEvent(
        source="n9e",
        fingerprint="nightingale:54f5543591c6dc0e30139cae196a1eee",
        status=AlertStatus.FIRING,
        labels={
            "name": "cpu_usage_active",
            "cpu": "cpu-total",
            "ident": "ulric-flashcat.local",
            "rulename": "测试事件回调",
            "nightingale_rule_id": "54",
            "nightingale_group_name": "DBA-Postgres",
            "nightingale_datasource": "prom",
            "nightingale_target": "ulric-flashcat.local",
            "alertname": "测试事件回调",
            "severity": "warning",
            "nightingale_severity": "2",
        },
        annotations={
            "summary": "测试事件回调 · ulric-flashcat.local",
            "description": f"Level: Warning · business group DBA-Postgres\nValue: 33.06867\n"
            f"Query: {QUERY}",
            "value": "33.06867",
            "query": QUERY,
        },
        starts_at=datetime(2025, 6, 6, 3, 24, 24, tzinfo=UTC),
        ends_at=None,
        generator_url="",
        group_key="",
    )


def test_a_tagged_rule_fires_and_recovers_as_one_alert() -> None:
    (firing,) = parse(payload(KIND, "firing_tagged"))
    (recovered,) = parse(payload(KIND, "recovered_tagged"))

    assert firing == AlertEvent(
        source="n9e",
        fingerprint="nightingale:9b2e4c1d7a3f60e58d1c2b3a4f5e6d7c",
        status=AlertStatus.FIRING,
        labels={
            "env": "prod",
            "rulename": "Order API 5xx ratio high",
            "service": "orders",
            "team": "checkout",
            "nightingale_rule_id": "71",
            "nightingale_group_name": "Orders",
            "nightingale_datasource": "prom",
            "alertname": "Order API 5xx ratio high",
            "severity": "critical",
            "nightingale_severity": "1",
        },
        annotations={
            "dashboard_url": "https://grafana.example.com/d/orders",
            "summary": "Order API 5xx ratio high",
            "description": "5xx ratio of the order API above 5% for 2 minutes.\n"
            "Level: Critical · business group Orders\nValue: 0.124\n"
            f"Query: {ORDERS_QUERY}",
            "runbook_url": "https://runbooks.example.com/orders/5xx",
            "value": "0.124",
            "query": ORDERS_QUERY,
        },
        starts_at=datetime(2026, 1, 5, 2, 58, tzinfo=UTC),  # first_trigger_time
        ends_at=None,
    )
    assert recovered.status is AlertStatus.RESOLVED
    assert recovered.fingerprint == firing.fingerprint
    assert recovered.labels == firing.labels
    assert recovered.starts_at == firing.starts_at
    assert recovered.ends_at == datetime(2026, 1, 5, 3, 25, tzinfo=UTC)  # last_eval_time
    assert recovered.annotations["value"] == "0.008"


def test_the_callback_media_array_and_a_wrapping_body_carry_the_same_events() -> None:
    batch = parse(payload(KIND, "callback_media_batch"))
    (wrapped,) = parse(payload(KIND, "v8_custom_media"))

    first, second = payload(KIND, "callback_media_batch")
    assert batch == [*parse(first), *parse(second)]
    assert wrapped == batch[1]
    assert [e.fingerprint for e in batch] == [
        "nightingale:54f5543591c6dc0e30139cae196a1eee",
        "nightingale:f75556af7cedbe250d3d8ab709634c96",
    ]


def test_two_targets_of_one_rule_are_two_alerts() -> None:
    body = payload(KIND, "v8_callback_processor")
    other = changed(body, ("hash",), "0f0e0d0c0b0a09080706050403020100")
    other = changed(other, ("target_ident",), "web02")

    (one,), (two,) = parse(body), parse(other)

    assert one.fingerprint != two.fingerprint
    assert one.labels["nightingale_target"] != two.labels["nightingale_target"]


@pytest.mark.parametrize(
    ("level", "severity", "word"),
    [
        (1, "critical", "1"),
        (2, "warning", "2"),
        (3, "info", "3"),
        ("1", "critical", "1"),
        (1.0, "critical", "1"),
        (0, "warning", "0"),
        (4, "warning", "4"),
    ],
)
def test_severity_table(level: Any, severity: str, word: str) -> None:
    (event,) = parse(changed(payload(KIND, "firing_tagged"), ("severity",), level))

    assert event.labels["severity"] == severity
    assert event.labels["nightingale_severity"] == word


def test_the_rules_own_annotations_win() -> None:
    notes = {"summary": "Orders failing", "runbook_url": "https://wiki.example.com/orders"}
    (event,) = parse(changed(payload(KIND, "firing_tagged"), ("annotations",), notes))

    assert event.annotations["summary"] == "Orders failing"
    assert event.annotations["runbook_url"] == "https://wiki.example.com/orders"
    assert event.annotations["value"] == "0.124"


def test_tags_then_tags_map_and_the_severity_label_is_ours() -> None:
    body = payload(KIND, "firing_tagged")
    body["tags"] = ["service=orders", "", "severity=P0", "url=https://x.example.com/?a=b"]
    body["tags_map"] = {"service": "cart", "k8s.namespace": "shop"}

    (event,) = parse(body)

    assert event.labels["service"] == "orders"
    assert event.labels["k8s_namespace"] == "shop"
    assert event.labels["url"] == "https://x.example.com/?a=b"
    assert event.labels["severity"] == "critical"
    assert "_" not in event.labels


def test_tags_map_alone_when_tags_is_null() -> None:
    (event,) = parse(changed(payload(KIND, "firing_tagged"), ("tags",), None))

    assert event.labels["service"] == "orders" and event.labels["env"] == "prod"


@pytest.mark.parametrize(
    ("event_id", "expected"),
    [
        (2204117, "https://n9e.example.com/alert-his-events/2204117"),
        ("2204117", "https://n9e.example.com/alert-his-events/2204117"),
        (0, ""),
        (None, ""),
        ("²", ""),
    ],
)
def test_the_event_page_needs_the_site_address(event_id: Any, expected: str) -> None:
    body = changed(payload(KIND, "firing_tagged"), ("id",), event_id)
    body["annotations"]["nightingale_url"] = "https://n9e.example.com/"

    (event,) = parse(body)

    assert event.generator_url == expected


def test_a_wrapping_body_may_name_the_site() -> None:
    body = payload(KIND, "v8_custom_media")
    body["nightingale_url"] = "https://n9e.example.com"

    (event,) = parse(body)

    assert event.generator_url == "https://n9e.example.com/alert-his-events/1097655"
    assert parse(payload(KIND, "v8_callback_processor"))[0].generator_url == ""


def test_an_empty_array_is_nothing_to_do() -> None:
    bodies: list[Any] = [[], {"events": []}]
    for body in bodies:
        parsed = nightingale.parse(body, "n9e")
        assert parsed.events == [] and parsed.rejected == []


def test_a_bad_event_of_an_array_is_rejected_alone() -> None:
    first, second = payload(KIND, "callback_media_batch")
    del second["is_recovered"]

    parsed = nightingale.parse([first, second, 7, None], "n9e")

    assert [e.fingerprint for e in parsed.events] == [
        "nightingale:54f5543591c6dc0e30139cae196a1eee"
    ]
    bad, seven, null = parsed.rejected
    assert bad.where == "[1]" and bad.reason == "malformed"
    assert bad.error == "[1].is_recovered: required (true or false)"
    assert bad.fingerprint == "nightingale:f75556af7cedbe250d3d8ab709634c96"
    assert bad.name == "测试自定义通知媒介2"
    assert seven.error == "[2]: must be a JSON object, got number"
    assert null.error == "[3]: must be a JSON object, got null"


# Malformed payloads: (fixture, path, replacement, message)
CASES: list[tuple[str, tuple[str | int, ...], Any, str]] = [
    ("firing_tagged", (), None, "payload: must be a JSON object, got null"),
    ("firing_tagged", (), "x", "payload: must be a JSON object, got string"),
    ("firing_tagged", ("hash",), DELETE, "hash: required"),
    ("firing_tagged", ("hash",), "", "hash: required"),
    ("firing_tagged", ("hash",), {}, "hash: must be a string, got object"),
    ("firing_tagged", ("rule_name",), DELETE, "rule_name: required"),
    ("firing_tagged", ("rule_name",), ["x"], "rule_name: must be a string, got array"),
    ("firing_tagged", ("severity",), DELETE, "severity: required"),
    ("firing_tagged", ("severity",), True, "severity: must be a number (1, 2 or 3), got boolean"),
    ("firing_tagged", ("severity",), {}, "severity: must be a number (1, 2 or 3), got object"),
    ("firing_tagged", ("is_recovered",), DELETE, "is_recovered: required (true or false)"),
    ("firing_tagged", ("is_recovered",), 1, "is_recovered: must be true or false, got number"),
    (
        "firing_tagged",
        ("is_recovered",),
        "false",
        "is_recovered: must be true or false, got string",
    ),
    ("firing_tagged", ("tags",), "env=prod", "tags: must be an array of strings, got string"),
    ("firing_tagged", ("tags", 1), {"k": "v"}, "tags[1]: must be a string, got object"),
    ("firing_tagged", ("tags_map",), [], "tags_map: must be an object of strings, got array"),
    ("firing_tagged", ("tags_map", "env"), None, "tags_map: must be an object of strings"),
    ("firing_tagged", ("annotations",), "x", "annotations: must be an object of strings"),
    ("firing_tagged", ("annotations", "a"), [1], "annotations: must be an object of strings"),
    ("firing_tagged", ("trigger_time",), "1767582000", "trigger_time: must be unix seconds"),
    (
        "firing_tagged",
        ("first_trigger_time",),
        1e300,
        "first_trigger_time: not a time that can be represented",
    ),
    ("firing_tagged", ("last_eval_time",), False, "last_eval_time: must be unix seconds"),
    ("firing_tagged", ("trigger_value",), {"v": 1}, "trigger_value: must be a string, got object"),
    ("firing_tagged", ("target_ident",), [], "target_ident: must be a string, got array"),
    ("firing_tagged", ("runbook_url",), {}, "runbook_url: must be a string, got object"),
    ("v8_custom_media", ("events",), {}, "events: must be an array of events, got object"),
    ("v8_custom_media", ("events", 0, "hash"), ["h"], "events[0].hash: must be a string"),
    ("v8_custom_media", ("events", 0, "rule_name"), None, "events[0].rule_name: required"),
    ("callback_media_batch", (1, "severity"), None, "[1].severity: required"),
    ("callback_media_batch", (0,), "event", "[0]: must be a JSON object, got string"),
]


@pytest.mark.parametrize(("fixture", "path", "value", "message"), CASES)
def test_malformed_input_names_the_field(
    fixture: str, path: tuple[str | int, ...], value: Any, message: str
) -> None:
    body = value if path == () else changed(payload(KIND, fixture), path, value)

    with pytest.raises(InputError, match=f"^{re.escape(message)}"):
        parse(body)


def test_numbers_where_texts_are_expected_are_written_out() -> None:
    body = payload(KIND, "firing_tagged")
    body.update(rule_name=404, trigger_value=0.5, group_name=7, tags=["port=8080", 443])

    (event,) = parse(body)

    assert event.labels["alertname"] == "404"
    assert event.labels["nightingale_group_name"] == "7"
    assert event.labels["_443"] == "" and event.labels["port"] == "8080"
    assert event.annotations["value"] == "0.5"


FIXTURES = [
    "v8_callback_processor",
    "v8_custom_media",
    "callback_media_batch",
    "firing_tagged",
    "recovered_tagged",
]


@settings(max_examples=400, deadline=None)
@given(fixture=st.sampled_from(FIXTURES), data=st.data())
def test_any_corruption_gives_events_or_input_error(fixture: str, data: st.DataObject) -> None:
    body = payload(KIND, fixture)
    path = data.draw(st.sampled_from(node_paths(body)))
    corrupted = data.draw(JSON) if path == () else changed(body, path, data.draw(JSON))

    try:
        parsed = nightingale.parse(corrupted, "n9e")
    except InputError:
        return
    assert all(isinstance(event, AlertEvent) for event in parsed.events)
    assert all(rejected.error for rejected in parsed.rejected)


@settings(max_examples=300, deadline=None)
@given(body=JSON)
def test_arbitrary_json_gives_events_or_input_error(body: Any) -> None:
    with contextlib.suppress(InputError):
        nightingale.parse(body, "n9e")


# Over HTTP


SOURCE = {"name": "n9e", "kind": KIND, "auth": {"bearer_token": TOKEN}}
BEARER = {"Authorization": f"Bearer {TOKEN}"}
URL_TOKEN = "n9e-url-token-Vq4Lx8Tz2Kc7Wn5Rb3Hd9"
HMAC = "n9e-hmac-Qs5Nw8Tk3Xv7Lp2Hd9Rc4"
URL_SOURCE = {"name": "n9e-rules", "kind": KIND, "auth": {"query_token": URL_TOKEN}}


def request(body: Any) -> Sample:
    return Sample("https://example.invalid/", body, orjson.dumps(body), "application/json")


async def test_lifecycle_takes_service_and_environment_from_the_tags(db: Database) -> None:
    async with served(db, SOURCE, headers=BEARER, query="source=n9e") as app:
        alert = await lifecycle(
            app, sample(KIND, "firing_tagged"), sample(KIND, "recovered_tagged")
        )
        (incident,) = await app.incidents()

    assert alert["fingerprint"] == "nightingale:9b2e4c1d7a3f60e58d1c2b3a4f5e6d7c"
    assert alert["labels"]["service"] == "orders" and alert["labels"]["env"] == "prod"
    assert alert["labels"]["severity"] == "critical"
    assert (incident["service"], incident["environment"]) == ("orders", "prod")


async def test_a_batch_is_stored_event_by_event(db: Database) -> None:
    first, second = payload(KIND, "callback_media_batch")
    del second["hash"]
    async with served(db, SOURCE, headers=BEARER) as app:
        response = await app.post(request([first, second]))
        stored = await app.alerts()

    assert response.status_code == 200, response.text
    assert response.json()["received"] == 1
    assert response.json()["rejected"][0]["error"] == "[1].hash: required (the event's hash)"
    assert [a["fingerprint"] for a in stored] == ["nightingale:54f5543591c6dc0e30139cae196a1eee"]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": "Bearer forged-token"}, "invalid bearer token"),
        ({}, "missing Authorization header"),
        ({"Authorization": TOKEN}, "Authorization header must be: Bearer <token>"),
    ],
)
async def test_a_bad_bearer_token_is_refused(
    db: Database, headers: dict[str, str], message: str
) -> None:
    async with served(db, SOURCE, headers=BEARER) as app:
        await refused_unchanged(app, sample(KIND, "firing_tagged"), 401, message, headers=headers)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("source=n9e-rules&token=forged", "invalid token query parameter"),
        ("source=n9e-rules", "missing token query parameter"),
    ],
)
async def test_a_rule_callback_url_carries_its_token(
    db: Database, query: str, message: str
) -> None:
    async with served(db, URL_SOURCE, headers={}) as app:
        await refused_unchanged(app, sample(KIND, "firing_tagged"), 401, message, query=query)
        good = await app.post(
            sample(KIND, "firing_tagged"), query=f"source=n9e-rules&token={URL_TOKEN}"
        )

    assert good.status_code == 200 and good.json()["opened"] == 1, good.text


async def test_a_malformed_event_is_refused_naming_the_field(db: Database) -> None:
    body = changed(payload(KIND, "firing_tagged"), ("is_recovered",), DELETE)
    async with served(db, SOURCE, headers=BEARER) as app:
        await refused_unchanged(app, request(body), 400, "is_recovered: required")
        await refused_unchanged(app, b"{", 400, "not valid JSON")


async def test_an_empty_array_is_answered_and_nothing_stored(db: Database) -> None:
    async with served(db, SOURCE, headers=BEARER) as app:
        response = await app.post(request([]))
        counts = await app.counts()

    assert response.status_code == 200, response.text
    assert response.json()["received"] == 0
    assert counts == (0, 0)


# Settings


@pytest.mark.parametrize(
    ("auth", "key"),
    [
        ({"hmac_secret": "n9e-hmac-Qs5Nw8Tk3Xv7Lp2Hd9Rc4"}, "auth.hmac_secret"),
        (
            {"bearer_token": TOKEN, "hmac_secret": "n9e-hmac-Qs5Nw8Tk3Xv7Lp2Hd9Rc4"},
            "auth.hmac_secret",
        ),
    ],
)
def test_a_credential_nightingale_cannot_send_is_refused(auth: dict[str, str], key: str) -> None:
    config = base_config()
    config["sources"].append({"name": "n9e", "kind": KIND, "auth": auth})

    with pytest.raises(ConfigError) as info:
        parse_settings(config, env={})

    (problem,) = info.value.problems
    assert key in problem and "a nightingale source's sender cannot present this" in problem


@pytest.mark.parametrize("auth", [{"bearer_token": TOKEN}, {"query_token": URL_TOKEN}])
def test_a_header_or_url_token_is_taken(auth: dict[str, str]) -> None:
    config = base_config()
    config["sources"].append({"name": "n9e", "kind": KIND, "auth": auth})

    settings_ = parse_settings(config, env={})

    assert any(source.kind == KIND for source in settings_.sources)
