"""One contract for every metrics source: the in-memory fake and the Prometheus adapter (against
the fake Prometheus) must answer the same scenarios the same way, so the fake stays honest."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import pytest
from fake_prometheus import FakePrometheus, error, vector

from adapters.metrics import prometheus
from adapters.metrics.memory import MemoryMetrics
from bot.errors import PermanentDelivery
from bot.ports import MetricsSource

ERROR_RATE = 'sum(rate(http_requests_total{code=~"5.."}[5m]))'


class Scenario(Protocol):
    def value(self, promql: str, value: float, labels: dict[str, str]) -> None: ...

    def nan(self, promql: str) -> None: ...

    def series(self, promql: str, count: int) -> None: ...

    def broken(self, promql: str) -> None: ...


@dataclass
class MemoryScenario:
    fake: MemoryMetrics

    def value(self, promql: str, value: float, labels: dict[str, str]) -> None:
        self.fake.set_value(promql, value, labels)

    def nan(self, promql: str) -> None:
        self.fake.set_nan(promql)

    def series(self, promql: str, count: int) -> None:
        self.fake.set_series(promql, *((1.0, {"i": str(i)}) for i in range(count)))

    def broken(self, promql: str) -> None:
        self.fake.set_error(promql, PermanentDelivery("memory: bad_data: parse error"))


@dataclass
class PrometheusScenario:
    server: FakePrometheus

    def value(self, promql: str, value: float, labels: dict[str, str]) -> None:
        self.server.answers[promql] = vector((repr(value), labels))

    def nan(self, promql: str) -> None:
        self.server.answers[promql] = vector(("NaN", {}))

    def series(self, promql: str, count: int) -> None:
        self.server.answers[promql] = vector(*(("1", {"i": str(i)}) for i in range(count)))

    def broken(self, promql: str) -> None:
        self.server.answers[promql] = error(400, "bad_data", "parse error")


@pytest.fixture(params=["memory", "prometheus"])
async def world(request: pytest.FixtureRequest) -> AsyncIterator[tuple[MetricsSource, Scenario]]:
    if request.param == "memory":
        fake = MemoryMetrics()
        yield fake, MemoryScenario(fake)
        await fake.aclose()
        assert fake.closed
        return
    server = FakePrometheus()
    await server.start()
    source = prometheus.create({"url": server.url})
    yield source, PrometheusScenario(server)
    await source.aclose()
    await server.close()


async def test_one_value_with_its_labels(world: tuple[MetricsSource, Scenario]) -> None:
    source, scenario = world
    scenario.value(ERROR_RATE, 0.125, {"service": "orders"})
    result = await source.query(ERROR_RATE)
    assert result.single() == (0.125, "")
    assert result.samples[0].labels == {"service": "orders"}


async def test_an_unknown_series_is_no_data(world: tuple[MetricsSource, Scenario]) -> None:
    source, _ = world
    assert (await source.query('up{job="nope"}')).single() == (None, "no data")


async def test_nan_and_infinity(world: tuple[MetricsSource, Scenario]) -> None:
    source, scenario = world
    scenario.nan("0/0")
    scenario.value("1/0", math.inf, {})
    assert (await source.query("0/0")).single() == (None, "NaN")
    assert (await source.query("1/0")).single() == (math.inf, "")


async def test_several_series(world: tuple[MetricsSource, Scenario]) -> None:
    source, scenario = world
    scenario.series("up", 3)
    value, note = (await source.query("up")).single()
    assert value is None
    assert note == "the query returned 3 series; aggregate it (sum, max…)"


async def test_a_broken_query_is_permanent(world: tuple[MetricsSource, Scenario]) -> None:
    source, scenario = world
    scenario.broken("sum(")
    with pytest.raises(PermanentDelivery, match="bad_data: parse error"):
        await source.query("sum(")


async def test_the_memory_source_records_the_queries() -> None:
    fake = MemoryMetrics()
    fake.set_empty("up")
    await fake.query("up")
    assert fake.queries == [("up", None)]
