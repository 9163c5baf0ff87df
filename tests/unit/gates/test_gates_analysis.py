"""The gate's analysis: judging values, metric and gate verdicts, due times, card lines."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from gates_strategies import T0, gate, metric, series

from bot.gates import (
    Measurement,
    Outcome,
    gate_next_due,
    gate_verdict,
    judge,
    measure,
    measurements_needed,
    metric_verdict,
    next_due,
    summary,
)
from bot.settings.gates import Traffic


def run(letters: str, name: str = "error_rate") -> list[Measurement]:
    """Measurements a minute apart: s success, f failure, i inconclusive, e error."""
    outcomes: dict[str, Outcome] = {
        "s": "success",
        "f": "failure",
        "i": "inconclusive",
        "e": "error",
    }
    return series([outcomes[c] for c in letters], name)


GUARDED = metric(traffic=Traffic(query='sum(x{s="$service"})', minimum=10))

# --- judging one value --------------------------------------------------------------------------


def test_pass_and_fail_show_the_value() -> None:
    assert judge(metric(), 0.012) == ("success", "0.012 <= 0.05")
    assert judge(metric(), 0.071) == ("failure", "0.071 > 0.05 (failed)")
    assert judge(metric(), 0.05) == ("success", "0.05 <= 0.05")


def test_empty_result_and_nan_are_inconclusive() -> None:
    assert judge(metric(), None) == ("inconclusive", "no data")
    assert judge(metric(), math.nan) == ("inconclusive", "NaN")


def test_infinity_is_judged_by_the_condition() -> None:
    latency = metric(success="<= 30")
    assert judge(latency, math.inf) == ("failure", "+Inf > 30 (failed)")


def test_error_is_its_own_outcome_and_says_why() -> None:
    outcome, note = judge(metric(), 0.01, error="HTTP 503 from\n prometheus")
    assert (outcome, note) == ("error", "error: HTTP 503 from prometheus")
    assert len(judge(metric(), None, error="x" * 500)[1]) == len("error: ") + 200


def test_low_traffic_is_inconclusive_never_a_pass() -> None:
    assert judge(GUARDED, 0.0, 3) == ("inconclusive", "traffic 3 < 10, value 0")
    assert judge(GUARDED, 0.9, 3) == ("inconclusive", "traffic 3 < 10, value 0.9")
    assert judge(GUARDED, 0.0, None) == ("inconclusive", "no traffic data, value 0")
    assert judge(GUARDED, None, math.nan) == ("inconclusive", "no traffic data, value no data")
    assert judge(GUARDED, 0.0, 10) == ("success", "0 <= 0.05")
    assert judge(GUARDED, 0.5, 250) == ("failure", "0.5 > 0.05 (failed)")


def test_traffic_is_ignored_without_a_guard() -> None:
    assert judge(metric(), 0.0, 0)[0] == "success"


def test_measure_builds_a_judged_measurement() -> None:
    taken = measure(GUARDED, T0, 0.2, 42)
    assert taken == Measurement("error_rate", T0, 0.2, "failure", "0.2 > 0.05 (failed)", 42)
    with pytest.raises(ValueError, match="aware datetime"):
        measure(GUARDED, datetime(2026, 3, 1), 0.2, 42)


# --- a metric's verdict -------------------------------------------------------------------------


def test_count_successes_pass() -> None:
    m = metric(count=3)
    assert metric_verdict(m, series(["success", "success"])) == "running"
    assert metric_verdict(m, series(["success"] * 3)) == "passed"
    assert metric_verdict(m, []) == "running"


def test_first_failure_fails_by_default() -> None:
    assert metric_verdict(metric(), series(["success", "failure"])) == "failed"


def test_failure_limit_is_cumulative_and_strictly_exceeded() -> None:
    m = metric(count=6, failure_limit=2)
    assert metric_verdict(m, series(["failure", "success", "failure"])) == "running"
    assert metric_verdict(m, series(["failure", "success", "failure", "failure"])) == "failed"
    assert metric_verdict(m, run("fsfsss")) == "passed"


def test_consecutive_failures_fail_and_a_success_resets_the_run() -> None:
    m = metric(count=10, consecutive_failure_limit=3)
    assert metric_verdict(m, series(["failure"] * 2)) == "running"
    assert metric_verdict(m, series(["failure"] * 3)) == "failed"
    assert metric_verdict(m, run("ffsff")) == "running"
    assert metric_verdict(m, run("ffsfff")) == "failed"
    gappy = metric(count=10, consecutive_failure_limit=3, inconclusive_limit=5)
    assert metric_verdict(gappy, run("ffie")) == "running"
    assert metric_verdict(gappy, run("ffif")) == "failed"


def test_five_xx_above_five_percent_for_five_minutes() -> None:
    m = metric(count=10, consecutive_failure_limit=5)
    flaps = ["failure", "failure", "failure", "failure", "success"] * 2
    assert metric_verdict(m, series(flaps)) == "passed"
    assert metric_verdict(m, series(["success"] + ["failure"] * 5)) == "failed"


def test_consecutive_and_cumulative_limits_together() -> None:
    m = metric(count=10, failure_limit=4, consecutive_failure_limit=3)
    assert metric_verdict(m, series(["failure", "success"] * 2 + ["failure"])) == "running"
    assert metric_verdict(m, series(["failure", "success"] * 4 + ["failure"])) == "failed"


def test_inconclusive_limit() -> None:
    assert metric_verdict(metric(), series(["inconclusive"])) == "inconclusive"
    m = metric(count=4, inconclusive_limit=1)
    assert metric_verdict(m, series(["inconclusive", "success"])) == "running"
    assert metric_verdict(m, series(["inconclusive", "success", "inconclusive"])) == "inconclusive"
    assert metric_verdict(m, series(["inconclusive", "success", "success", "success"])) == "running"
    assert metric_verdict(m, series(["inconclusive"] + ["success"] * 4)) == "passed"


def test_inconclusives_never_make_a_pass() -> None:
    """Unlike Argo, an inconclusive measurement does not count toward `count`."""
    m = metric(count=1, inconclusive_limit=3)
    assert metric_verdict(m, series(["inconclusive"] * 3)) == "running"
    assert metric_verdict(m, series(["inconclusive"] * 4)) == "inconclusive"
    assert metric_verdict(m, series(["inconclusive"] * 3 + ["success"])) == "passed"


def test_errors_count_toward_the_inconclusive_limit_but_not_toward_count() -> None:
    m = metric(count=2, inconclusive_limit=2)
    assert metric_verdict(m, series(["error", "success"])) == "running"
    assert metric_verdict(m, series(["error", "success", "success"])) == "passed"
    assert metric_verdict(m, series(["error", "inconclusive", "error"])) == "inconclusive"
    assert metric_verdict(metric(), series(["error"])) == "inconclusive"


def test_failures_decide_before_inconclusives() -> None:
    m = metric(count=5)
    both = [
        Measurement("error_rate", T0, None, "inconclusive"),
        Measurement("error_rate", T0 + timedelta(minutes=1), 0.9, "failure"),
    ]
    assert metric_verdict(m, both) == "inconclusive"  # the inconclusive came first
    assert metric_verdict(m, series(["failure", "inconclusive"])) == "failed"


def test_a_verdict_once_reached_does_not_change() -> None:
    m = metric(count=2)
    assert metric_verdict(m, series(["success", "success", "failure"])) == "passed"
    assert metric_verdict(m, series(["failure", "success", "success"])) == "failed"


def test_measurements_are_read_in_time_order() -> None:
    m = metric(count=2)
    late_failure = list(reversed(series(["success", "success", "failure"])))
    assert metric_verdict(m, late_failure) == "passed"


def test_count_override_and_its_bounds() -> None:
    assert metric_verdict(metric(count=5), series(["success"] * 2), count=2) == "passed"
    with pytest.raises(ValueError, match="at least 1 measurement"):
        metric_verdict(metric(), [], count=0)


# --- the gate's verdict -------------------------------------------------------------------------

RATE = metric(count=3)
LATENCY = metric(name="latency", success="<= 30", count=3)
GATE = gate(RATE, LATENCY, initial_delay="2m", after_rollback_count=2)


def by(rate: list[Outcome], latency: list[Outcome]) -> dict[str, list[Measurement]]:
    return {"error_rate": series(rate), "latency": series(latency, "latency")}


@pytest.mark.parametrize(
    ("rate", "latency", "verdict"),
    [
        ([], [], "running"),
        (["success"] * 3, ["success"] * 2, "running"),
        (["success"] * 3, ["success"] * 3, "passed"),
        (["success"], ["failure"], "failed"),
        (["inconclusive"], ["success"], "inconclusive"),
        (["inconclusive"], ["failure"], "failed"),
        (["failure"], ["inconclusive"], "failed"),
        (["success"] * 3, ["inconclusive"], "inconclusive"),
    ],
)
def test_gate_verdict_precedence(rate: list[Outcome], latency: list[Outcome], verdict: str) -> None:
    assert gate_verdict(GATE, by(rate, latency)) == verdict


def test_a_rollback_gate_takes_fewer_measurements() -> None:
    two = by(["success"] * 2, ["success"] * 2)
    assert gate_verdict(GATE, two) == "running"
    assert gate_verdict(GATE, two, after_rollback=True) == "passed"
    assert measurements_needed(GATE, RATE) == 3
    assert measurements_needed(GATE, RATE, after_rollback=True) == 2


def test_a_rollback_gate_fails_when_all_its_measurements_are_a_failing_run() -> None:
    run = metric(count=10, consecutive_failure_limit=5)
    g = gate(run, after_rollback_count=2)
    failing = {"error_rate": series(["failure", "failure"])}
    assert gate_verdict(g, failing, after_rollback=True) == "failed"
    assert gate_verdict(g, failing) == "running"


def test_a_rollback_gate_caps_the_failure_limit_below_its_count() -> None:
    g = gate(metric(count=10, failure_limit=3), after_rollback_count=2)
    assert gate_verdict(g, {"error_rate": run("fs")}, after_rollback=True) == "passed"
    assert gate_verdict(g, {"error_rate": run("ff")}, after_rollback=True) == "failed"
    assert gate_verdict(g, {"error_rate": series(["failure", "failure"])}) == "running"


def test_unknown_metric_names_are_ignored() -> None:
    assert gate_verdict(gate(RATE), {"gone": series(["failure"], "gone")}) == "running"


# --- due times ----------------------------------------------------------------------------------


def test_first_measurement_waits_the_initial_delay_then_the_interval() -> None:
    assert next_due(GATE, RATE, [], T0) == T0 + timedelta(minutes=2)
    taken = [Measurement("error_rate", T0 + timedelta(minutes=2), 0.0, "success")]
    assert next_due(GATE, RATE, taken, T0) == T0 + timedelta(minutes=3)
    slow = metric(interval="30s", count=3)
    assert next_due(GATE, slow, taken, T0) == T0 + timedelta(minutes=2, seconds=30)


def test_no_due_time_once_the_metric_has_a_verdict() -> None:
    assert next_due(GATE, RATE, series(["failure"]), T0) is None
    assert next_due(GATE, RATE, series(["success"] * 3), T0) is None
    assert next_due(GATE, RATE, series(["success"] * 2), T0, after_rollback=True) is None
    assert next_due(GATE, RATE, series(["success"] * 2), T0) is not None


def test_gate_next_due_is_the_earliest_and_none_once_decided() -> None:
    taken = by(["success"], [])
    assert gate_next_due(GATE, taken, T0) == T0 + timedelta(minutes=1)
    taken = by(["success"] * 3, ["success"])
    assert gate_next_due(GATE, taken, T0) == T0 + timedelta(minutes=1)
    assert gate_next_due(GATE, by(["failure"], []), T0) is None


def test_the_start_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        next_due(GATE, RATE, [], datetime(2026, 3, 1))


# --- card lines ---------------------------------------------------------------------------------


def test_summary_lines() -> None:
    g = gate(metric(count=5, failure_limit=2), LATENCY)
    rate = g.metrics[0]
    taken = {
        "error_rate": [measure(rate, T0, 0.01), measure(rate, T0 + timedelta(minutes=1), 0.071)],
        "latency": [measure(LATENCY, T0, None, error="timeout")],
    }
    assert summary(g, taken, "en") == [
        "error_rate: 2/5 measured, 1 failed, last 0.071 > 0.05 ✗",
        "latency: 0/3 measured, 1 inconclusive, last error: timeout ! → inconclusive",
    ]
    assert summary(g, {}, "en")[0] == "error_rate: 0/5 measured, waiting"
    assert summary(g, taken, "zh") == [
        "error_rate：已测 2/5，1 次未通过，最近 0.071 > 0.05 ✗",
        "latency：已测 0/3，1 次无法判断，最近 错误：timeout ! → 无法判断",
    ]
    assert summary(g, {}, "zh")[0] == "error_rate：已测 0/5，等待中"
