"""Hypothesis strategies and small builders for health-gate tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from bot.gates import Measurement, Outcome
from bot.settings.gates import Gate, GateMetric

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
QUERY = 'sum(rate(http_requests_total{service="$service",code=~"5.."}[5m]))'
OUTCOMES: tuple[Outcome, ...] = ("success", "failure", "inconclusive", "error")


def metric(**overrides: Any) -> GateMetric:
    fields: dict[str, Any] = {"name": "error_rate", "query": QUERY, "success": "<= 0.05"}
    fields.update(overrides)
    return GateMetric.model_validate(fields)


def gate(*metrics: GateMetric, **overrides: Any) -> Gate:
    return Gate.model_validate({"metrics": metrics or (metric(),), **overrides})


def series(outcomes: Sequence[Outcome], name: str = "error_rate") -> list[Measurement]:
    """Measurements a minute apart, with the given outcomes."""
    return [
        Measurement(name, T0 + timedelta(minutes=i), None, outcome)
        for i, outcome in enumerate(outcomes)
    ]


@st.composite
def metrics(draw: st.DrawFn) -> GateMetric:
    count = draw(st.integers(1, 8))
    run = draw(st.none() | st.integers(1, count))
    if run is None:
        failure_limit = draw(st.none() | st.integers(0, count - 1))
    elif run < count:
        failure_limit = draw(st.none() | st.integers(run, count - 1))
    else:
        failure_limit = None
    return metric(
        count=count,
        failure_limit=failure_limit,
        consecutive_failure_limit=run,
        inconclusive_limit=draw(st.integers(0, 4)),
    )


outcome_lists = st.lists(st.sampled_from(OUTCOMES), max_size=14)
