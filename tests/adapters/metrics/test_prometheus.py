"""The Prometheus adapter against a local fake Prometheus: result types, NaN and infinities,
several series, errors as retryable or permanent, authentication headers, the time parameter."""

from __future__ import annotations

import base64
import math
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fake_prometheus import FakePrometheus, error, scalar, vector

from adapters import metrics
from adapters.metrics import prometheus
from adapters.metrics.prometheus import PrometheusSource
from bot.errors import ConfigError, PermanentDelivery, RetryableDelivery

Make = Callable[..., PrometheusSource]
RATE = 'sum(rate(http_requests_total{code=~"5.."}[5m]))'


@pytest.fixture
async def server() -> AsyncIterator[FakePrometheus]:
    fake = FakePrometheus()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def make(server: FakePrometheus) -> AsyncIterator[Make]:
    made: list[PrometheusSource] = []

    def build(**overrides: Any) -> PrometheusSource:
        source = prometheus.create({"url": server.url, **overrides})
        made.append(source)
        return source

    yield build
    for source in made:
        await source.aclose()


# -- settings ------------------------------------------------------------------------------


def test_settings_are_validated_by_key() -> None:
    assert prometheus.validate({"url": "http://prom:9090/", "bearer_token": "t"}) == []
    assert prometheus.validate({"url": "prom:9090", "timeout": "0s", "tls": False}) == [
        "url: must be an http(s) URL",
        "timeout: must be longer than 0s",
        "tls: unknown key (check its spelling against config/example.yaml)",
    ]
    assert prometheus.validate({}) == ["url: required key is missing"]
    assert prometheus.validate({"url": "http://p", "username": "u"}) == [
        "(section): username and password go together"
    ]
    assert prometheus.validate(
        {"url": "http://p", "bearer_token": "t", "username": "u", "password": "p"}
    ) == ["(section): give bearer_token or username and password, not both"]
    assert prometheus.validate(
        {"url": "http://p", "bearer_token": "t", "headers": {"authorization": "x"}}
    ) == ["(section): headers: Authorization: set from bearer_token or username"]
    with pytest.raises(ConfigError, match="url: must be an http"):
        prometheus.create({"url": "ftp://p"})


def test_the_section_names_each_kind() -> None:
    section = {"prometheus": {"url": "nope"}, "graphite": {}}
    assert metrics.validate(section) == [
        "metrics.prometheus.url: must be an http(s) URL",
        "metrics.graphite: unknown metrics source (use prometheus, memory, demo)",
    ]


async def test_the_section_creates_named_sources(server: FakePrometheus) -> None:
    sources = metrics.create({"prometheus": {"url": server.url, "timeout": "2s"}, "memory": {}})
    try:
        assert {name: source.name for name, source in sources.items()} == {
            "prometheus": "prometheus",
            "memory": "memory",
        }
        assert (await sources["prometheus"].query("up")).single() == (None, "no data")
    finally:
        for source in sources.values():
            await source.aclose()


def test_the_settings_never_show_the_secrets() -> None:
    settings = prometheus.PrometheusSettings.model_validate(
        {"url": "http://p", "username": "u", "password": "hunter2-secret"}
    )
    assert "hunter2-secret" not in repr(settings)
    assert settings.timeout == timedelta(seconds=10)


# -- results -------------------------------------------------------------------------------


async def test_a_vector_with_one_series(server: FakePrometheus, make: Make) -> None:
    server.answers[RATE] = vector(("0.025", {"service": "orders"}))
    result = await make().query(RATE)
    assert result.result_type == "vector"
    assert [(s.value, s.labels) for s in result.samples] == [(0.025, {"service": "orders"})]
    assert result.single() == (0.025, "")
    assert server.seen[0].params == {"query": RATE}


async def test_a_scalar(server: FakePrometheus, make: Make) -> None:
    server.answers["scalar(1)"] = scalar("1")
    result = await make().query("scalar(1)")
    assert result.result_type == "scalar"
    assert result.single() == (1.0, "")
    assert result.samples[0].labels == {}


async def test_no_series_is_no_data(make: Make) -> None:
    result = await make().query('up{job="nope"}')
    assert (result.samples, result.result_type) == ((), "vector")
    assert result.single() == (None, "no data")


async def test_nan_is_none_and_infinities_stay(server: FakePrometheus, make: Make) -> None:
    server.answers["0/0"] = scalar("NaN")
    server.answers["1/0"] = scalar("+Inf")
    server.answers["-1/0"] = vector(("-Inf", {}))
    source = make()
    assert (await source.query("0/0")).single() == (None, "NaN")
    assert (await source.query("1/0")).single() == (math.inf, "")
    assert (await source.query("-1/0")).single() == (-math.inf, "")


async def test_several_series_ask_for_an_aggregation(server: FakePrometheus, make: Make) -> None:
    server.answers["up"] = vector(("1", {"instance": "a"}), ("0", {"instance": "b"}))
    result = await make().query("up")
    assert [s.value for s in result.samples] == [1.0, 0.0]
    assert result.single() == (None, "the query returned 2 series; aggregate it (sum, max…)")


async def test_a_matrix_keeps_the_latest_value(server: FakePrometheus, make: Make) -> None:
    data = {
        "resultType": "matrix",
        "result": [{"metric": {"job": "x"}, "values": [[1, "1"], [2, "5"]]}],
    }
    server.answers["up[1m]"] = (200, {"status": "success", "data": data}, {})
    result = await make().query("up[1m]")
    assert result.result_type == "matrix"
    assert result.single() == (5.0, "")


# -- errors --------------------------------------------------------------------------------


async def test_a_broken_query_is_permanent(server: FakePrometheus, make: Make) -> None:
    server.answers["sum("] = error(400, "bad_data", "parse error: unclosed left parenthesis")
    with pytest.raises(PermanentDelivery) as caught:
        await make().query("sum(")
    assert str(caught.value) == (
        "prometheus: query: bad_data: parse error: unclosed left parenthesis"
    )
    assert not caught.value.retryable


async def test_an_execution_error_is_permanent(server: FakePrometheus, make: Make) -> None:
    server.answers["a / on() b"] = error(422, "execution", "many-to-many matching not allowed")
    with pytest.raises(PermanentDelivery, match="execution: many-to-many"):
        await make().query("a / on() b")


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(503, "unavailable"), (503, "timeout"), (500, "internal"), (502, ""), (429, "")],
)
async def test_server_trouble_is_retryable(
    server: FakePrometheus, make: Make, status: int, error_type: str
) -> None:
    if error_type:
        server.answers["up"] = error(status, error_type, "TSDB not ready", {"Retry-After": "3"})
    else:
        server.raw["up"] = (status, "<html>bad gateway</html>")
    with pytest.raises(RetryableDelivery) as caught:
        await make().query("up")
    assert caught.value.retryable
    assert str(caught.value).startswith("prometheus: query: ")
    assert caught.value.retry_after == (3.0 if error_type else None)


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_refusals_are_permanent(server: FakePrometheus, make: Make, status: int) -> None:
    server.raw["up"] = (status, "<html>no</html>")
    with pytest.raises(PermanentDelivery, match=f"prometheus: query: HTTP {status}$"):
        await make().query("up")


async def test_an_answer_that_is_not_prometheus_is_permanent(
    server: FakePrometheus, make: Make
) -> None:
    server.raw["up"] = (200, "<html>login</html>")
    with pytest.raises(PermanentDelivery, match="not a Prometheus answer"):
        await make().query("up")
    del server.raw["up"]
    server.answers["up"] = (200, {"status": "success", "data": {"resultType": "histo"}}, {})
    with pytest.raises(PermanentDelivery, match="unreadable histo result"):
        await make().query("up")


async def test_a_slow_answer_times_out_as_retryable(server: FakePrometheus, make: Make) -> None:
    server.hold("query")
    with pytest.raises(RetryableDelivery, match="prometheus: query: timed out"):
        await make(timeout="200ms").query("up")


async def test_no_server_is_retryable() -> None:
    source = prometheus.create({"url": "http://127.0.0.1:1", "timeout": "2s"})
    try:
        with pytest.raises(RetryableDelivery, match="prometheus: query: ConnectError"):
            await source.query("up")
    finally:
        await source.aclose()


# -- requests ------------------------------------------------------------------------------


async def test_bearer_token_and_extra_headers(server: FakePrometheus, make: Make) -> None:
    await make(bearer_token="tok-123", headers={"X-Scope-OrgID": "team-a"}).query("up")
    headers = server.seen[0].headers
    assert headers["Authorization"] == "Bearer tok-123"
    assert headers["X-Scope-OrgID"] == "team-a"


async def test_basic_auth(server: FakePrometheus, make: Make) -> None:
    await make(username="tocsin", password="s3cret").query("up")
    expected = base64.b64encode(b"tocsin:s3cret").decode()
    assert server.seen[0].headers["Authorization"] == f"Basic {expected}"


async def test_no_credentials_no_authorization(server: FakePrometheus, make: Make) -> None:
    await make().query("up")
    assert "Authorization" not in server.seen[0].headers


async def test_a_path_prefix_is_kept(server: FakePrometheus, make: Make) -> None:
    server.answers["up"] = vector(("1", {}))
    assert (await make(url=f"{server.url}/prefix/").query("up")).single() == (1.0, "")


async def test_the_time_parameter(server: FakePrometheus, make: Make) -> None:
    source = make()
    at = datetime(2024, 5, 1, 12, 0, 30, 250_000, tzinfo=UTC)
    await source.query("up", at=at)
    await source.query("up", at=at.astimezone(timezone(timedelta(hours=8))))
    await source.query("up", at=at.replace(tzinfo=None))  # naive: taken as UTC
    await source.query("up")
    times = [seen.params.get("time") for seen in server.seen]
    assert times == [f"{at.timestamp():.3f}"] * 3 + [None]
    assert times[0] == "1714564830.250"


async def test_a_transport_can_be_injected() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.params["query"] == "up"
        body = {"status": "success", "data": {"resultType": "vector", "result": []}}
        return httpx.Response(200, json=body)

    settings = prometheus.PrometheusSettings(url="http://prom.invalid")
    source = PrometheusSource(settings, transport=httpx.MockTransport(answer))
    try:
        assert (await source.query("up")).single() == (None, "no data")
    finally:
        await source.aclose()
