"""Hypothesis: properties of a metric's verdict over arbitrary measurement sequences."""

from __future__ import annotations

from gates_strategies import OUTCOMES, metrics, outcome_lists, series
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.gates import Outcome, metric_verdict
from bot.settings.gates import GateMetric

fast = settings(max_examples=300, deadline=None)


@fast
@given(metrics(), outcome_lists)
def test_never_passes_with_fewer_than_count_measurements(
    metric: GateMetric, outcomes: list[Outcome]
) -> None:
    counted = outcomes.count("success") + outcomes.count("failure")
    if counted < metric.count:
        assert metric_verdict(metric, series(outcomes)) != "passed"


@fast
@given(metrics(), outcome_lists, st.lists(st.sampled_from(OUTCOMES), max_size=6))
def test_a_verdict_never_changes_with_later_measurements(
    metric: GateMetric, outcomes: list[Outcome], more: list[Outcome]
) -> None:
    before = metric_verdict(metric, series(outcomes))
    if before != "running":
        assert metric_verdict(metric, series(outcomes + more)) == before


@fast
@given(metrics(), outcome_lists)
def test_adding_a_failure_never_turns_failed_into_passed(
    metric: GateMetric, outcomes: list[Outcome]
) -> None:
    if metric_verdict(metric, series(outcomes)) == "failed":
        assert metric_verdict(metric, series([*outcomes, "failure"])) == "failed"


@fast
@given(metrics(), st.integers(0, 3))
def test_count_successes_always_pass(metric: GateMetric, extra: int) -> None:
    assert metric_verdict(metric, series(["success"] * (metric.count + extra))) == "passed"
    assert metric_verdict(metric, series(["success"] * (metric.count - 1))) == "running"


@fast
@given(metrics(), outcome_lists, st.integers(1, 8))
def test_no_success_never_passes(metric: GateMetric, outcomes: list[Outcome], count: int) -> None:
    """Low traffic, no data, errors and failures alone never pass, in a rollback's gate too."""
    unjudged: list[Outcome] = ["inconclusive" if o == "success" else o for o in outcomes]
    assert metric_verdict(metric, series(unjudged)) != "passed"
    assert metric_verdict(metric, series(unjudged), count=count) != "passed"


@fast
@given(metrics(), outcome_lists)
def test_a_failed_verdict_has_a_reason(metric: GateMetric, outcomes: list[Outcome]) -> None:
    verdict = metric_verdict(metric, series(outcomes))
    judged = [o for o in outcomes if o in ("success", "failure")]
    if verdict == "failed":
        limit = metric.effective_failure_limit
        run = metric.consecutive_failure_limit
        assert (limit is not None and outcomes.count("failure") > limit) or (
            run is not None and ["failure"] * run in _windows(judged, run)
        )
    if "failure" not in outcomes:
        assert verdict != "failed"


def _windows(outcomes: list[Outcome], size: int) -> list[list[Outcome]]:
    return [outcomes[i : i + size] for i in range(len(outcomes) - size + 1)]
