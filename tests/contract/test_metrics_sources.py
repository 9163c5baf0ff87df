"""The metrics-source contract, run against Prometheus (on the fake Prometheus), the in-memory
fake and the demo source.

A value comes back as one sample with its labels, and `QueryResult.single` gives it; a series
that does not exist is no data (None, with the note ``no data``). A source that evaluates any
PromQL answers scalars too, says `PermanentDelivery` for a broken query and
`RetryableDelivery` when its server is out of reach or failing; the demo source understands two
queries, answers no data for anything else, and reads local files only. `aclose` may be called
twice.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fake_prometheus import FakePrometheus, error, scalar, vector

from adapters.metrics import demo, prometheus
from adapters.metrics.memory import MemoryMetrics
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import NO_DATA, MetricsSource, QueryResult, Sample

DEMO_QUERY = 'demo_error_ratio{service="orders",environment="prod"}'
LABELS = {"service": "orders", "environment": "prod"}


@dataclass
class MetricsSubject:
    source: MetricsSource
    answer: Callable[[float], str]
    """Arrange a one-series answer of `value` with `LABELS`; the query that gets it."""
    any_promql: bool
    scalar: Callable[[str, float], None] = lambda promql, value: None
    broken: Callable[[str], None] = lambda promql: None
    failing: Callable[[str], None] = lambda promql: None
    """The server answers `promql` with a 503 (or the source is otherwise told so)."""
    unreachable: Callable[[], MetricsSource] | None = None


def nowhere() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture(params=["demo", "memory", "prometheus"])
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetricsSubject]:
    if request.param == "demo":
        yield demo_subject(tmp_path)
    elif request.param == "memory":
        yield memory_subject()
    else:
        server = FakePrometheus()
        await server.start()
        made: list[MetricsSource] = []
        try:
            yield prometheus_subject(server, made)
        finally:
            for source in made:
                await source.aclose()
            await server.close()


def demo_subject(state: Path) -> MetricsSubject:
    def answer(value: float) -> str:
        (state / "orders-prod.errors").write_text(str(value))
        return DEMO_QUERY

    return MetricsSubject(demo.create({"state_dir": str(state)}), answer, any_promql=False)


def memory_subject() -> MetricsSubject:
    fake = MemoryMetrics()

    def answer(value: float) -> str:
        fake.set_value("sum(rate(errors[5m]))", value, LABELS)
        return "sum(rate(errors[5m]))"

    def unreachable() -> MetricsSource:
        fake.set_error("up", RetryableDelivery("memory: connection refused"))
        return fake

    return MetricsSubject(
        fake,
        answer,
        any_promql=True,
        scalar=lambda q, v: fake.set_result(q, QueryResult((Sample(v, {}),), "scalar")),
        broken=lambda q: fake.set_error(q, PermanentDelivery("memory: bad_data: parse error")),
        failing=lambda q: fake.set_error(q, RetryableDelivery("memory: 503")),
        unreachable=unreachable,
    )


def prometheus_subject(server: FakePrometheus, made: list[MetricsSource]) -> MetricsSubject:
    def build(url: str) -> MetricsSource:
        made.append(prometheus.create({"url": url}))
        return made[-1]

    def answer(value: float) -> str:
        server.answers["sum(rate(errors[5m]))"] = vector((repr(value), LABELS))
        return "sum(rate(errors[5m]))"

    def set_scalar(promql: str, value: float) -> None:
        server.answers[promql] = scalar(repr(value))

    def broken(promql: str) -> None:
        server.answers[promql] = error(400, "bad_data", "parse error")

    def failing(promql: str) -> None:
        server.answers[promql] = error(503, "unavailable", "starting up")

    return MetricsSubject(
        build(server.url),
        answer,
        any_promql=True,
        scalar=set_scalar,
        broken=broken,
        failing=failing,
        unreachable=lambda: build(nowhere()),
    )


async def test_a_value_comes_with_its_labels(subject: MetricsSubject) -> None:
    result = await subject.source.query(subject.answer(0.25))
    assert result.single() == (0.25, "")
    assert result.samples[0].labels == LABELS


async def test_a_series_that_does_not_exist_is_no_data(subject: MetricsSubject) -> None:
    assert (await subject.source.query('up{job="nope"}')).single() == (None, NO_DATA)


async def test_scalars_where_any_promql_is_evaluated(subject: MetricsSubject) -> None:
    subject.scalar("scalar(vector(2))", 2.0)
    result = await subject.source.query("scalar(vector(2))")
    if subject.any_promql:
        assert (result.result_type, result.single()) == ("scalar", (2.0, ""))
    else:
        assert result.single() == (None, NO_DATA)


async def test_a_broken_query_is_permanent_where_queries_are_parsed(
    subject: MetricsSubject,
) -> None:
    subject.broken("sum(")
    if subject.any_promql:
        with pytest.raises(PermanentDelivery):
            await subject.source.query("sum(")
    else:
        assert (await subject.source.query("sum(")).single() == (None, NO_DATA)


async def test_a_failing_or_unreachable_server_is_retryable(subject: MetricsSubject) -> None:
    if subject.unreachable is None:
        assert not subject.any_promql, "only the local demo source has no server"
        return
    subject.failing("up")
    with pytest.raises(RetryableDelivery):
        await subject.source.query("up")
    with pytest.raises(RetryableDelivery):
        await subject.unreachable().query("up")


async def test_aclose_is_safe_twice(subject: MetricsSubject) -> None:
    await subject.source.query(subject.answer(0.0))
    await subject.source.aclose()
    await subject.source.aclose()
