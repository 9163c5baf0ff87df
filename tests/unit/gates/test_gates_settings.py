"""Gate settings: conditions, placeholders and their expansion, validation messages."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
import yaml
from gates_strategies import QUERY, gate, metric
from pydantic import ValidationError

from bot.settings.gates import (
    Canary,
    Condition,
    Gate,
    GateMetric,
    Traffic,
    check_query,
    expand,
    format_number,
    parse_condition,
)


def errors(model: type[Any], data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return "\n".join(str(e["msg"]) for e in caught.value.errors())


# --- conditions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "op", "threshold", "passes", "fails"),
    [
        ("< 0.05", "<", 0.05, 0.049, 0.05),
        ("<= 30", "<=", 30.0, 30.0, 30.5),
        ("> 0.99", ">", 0.99, 0.995, 0.99),
        (">= 1", ">=", 1.0, 1.0, 0.5),
        ("== 0", "==", 0.0, 0.0, 1.0),
        ("!= 0", "!=", 0.0, 2.0, 0.0),
        ("  <=5e-2 ", "<=", 0.05, 0.05, 0.06),
        ("> -1", ">", -1.0, 0.0, -1.0),
    ],
)
def test_every_operator_parses_and_holds(
    text: str, op: str, threshold: float, passes: float, fails: float
) -> None:
    condition = parse_condition(text)
    assert (condition.op, condition.threshold) == (op, threshold)
    assert condition.holds(passes)
    assert not condition.holds(fails)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must be an operator and a number"),
        ("0.05", "must be an operator and a number"),
        ("< abc", "'abc' is not a number"),
        ("< 5%", "write a percentage as a ratio (5% is 0.05)"),
        ("= 0", "use '==' to compare for equality"),
        ("=< 1", "use '==' to compare for equality"),
        ("result < 0.05", "without 'result'"),
        ("< nan", "the threshold must be a finite number"),
        ("> inf", "the threshold must be a finite number"),
        ("< 1 2", "must be an operator and a number"),
        ("~= 1", "must be an operator and a number"),
    ],
)
def test_bad_conditions_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="condition") as caught:
        parse_condition(text)
    assert message in str(caught.value)


def test_the_note_states_what_was_measured() -> None:
    condition = parse_condition("<= 0.05")
    assert condition.explain(0.012) == "0.012 <= 0.05"
    assert condition.explain(0.071) == "0.071 > 0.05 (failed)"
    assert parse_condition("!= 0").explain(0) == "0 == 0 (failed)"
    assert parse_condition("> 0.99").explain(0.5) == "0.5 <= 0.99 (failed)"
    assert str(condition) == "<= 0.05"


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.071, "0.071"), (30.0, "30"), (12345.6, "12346"), (0.000012345, "1.234e-05"),
     (math.nan, "NaN"), (math.inf, "+Inf"), (-math.inf, "-Inf"), (2.5, "2.5")],
)  # fmt: skip
def test_numbers_read_well(value: float, shown: str) -> None:
    assert format_number(value) == shown


def test_a_metric_keeps_its_condition_parsed_and_dumps_it_as_text() -> None:
    m = metric(success="> 0.99")
    assert m.success == Condition(">", 0.99)
    assert m.model_dump()["success"] == "> 0.99"
    assert GateMetric.model_validate(m.model_dump()) == m


def test_a_number_as_condition_asks_for_quoted_text() -> None:
    assert "must be quoted text" in errors(
        GateMetric, {"name": "x", "query": QUERY, "success": 0.05}
    )


# --- placeholders -------------------------------------------------------------------------------


def test_expand_fills_in_the_run_values() -> None:
    query = (
        'sum(rate(http_requests_total{service="$service",env="$environment",'
        "version='$version',path=~`/api/.*$$`}[5m]))"
    )
    assert expand(query, "orders", "prod", "v1.2.3") == (
        'sum(rate(http_requests_total{service="orders",env="prod",'
        "version='v1.2.3',path=~`/api/.*$`}[5m]))"
    )


def test_expand_leaves_promql_braces_and_escapes_alone() -> None:
    query = r'x{a="say \"$service\"", b="$version-canary"} # $$ not a placeholder'
    assert expand(query, "s", "e", "7") == r'x{a="say \"s\"", b="7-canary"} # $ not a placeholder'


@pytest.mark.parametrize("bad", ['a"b', "a'b", "a`b", "a\\b", "a\nb", "a\rb", "a\x00b"])
@pytest.mark.parametrize("field", ["service", "environment", "version"])
def test_expand_refuses_values_that_could_leave_the_string(bad: str, field: str) -> None:
    values = {"service": "s", "environment": "e", "version": "v", field: bad}
    with pytest.raises(ValueError, match=f"{field} .* cannot go into a query"):
        expand(QUERY, **values)


def test_expand_refuses_unsafe_values_even_when_unused() -> None:
    with pytest.raises(ValueError, match="cannot go into a query"):
        expand("up", "s", "e", '"} or vector(1) #')


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('x{a="$svc"}', "unknown placeholder $svc (use $service, $environment or $version"),
        ('x{a="$service_api"}', "unknown placeholder $service_api"),
        ('x{a="${service}"}', "write $service, not ${service}: ${…} is the configuration's"),
        ('x{a="{service}"}', "write $service, not {service}"),
        ('x{a="{{ .version }}"}', "write $version, not {{ .version }}"),
        ('x{a="a$"}', "a lone $ at character 7: write $$ for a literal $"),
        ('x{a="$1"}', "a lone $"),
        ("x{a=$service}", 'placeholder $service must sit inside a quoted string, e.g. service="'),
        ("x # $version", "must sit inside a quoted string"),
        ('x{a="abc}', 'unterminated string: a " is never closed'),
        ("   ", "the query is empty"),
    ],
)
def test_bad_placeholders_are_refused(query: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_query(query)
    assert message in str(caught.value)


def test_placeholder_rule_applies_to_metric_and_traffic_queries() -> None:
    assert "unknown placeholder $svc" in errors(
        GateMetric, {"name": "x", "query": 'x{a="$svc"}', "success": "< 1"}
    )
    assert "must sit inside a quoted string" in errors(
        Traffic, {"query": "x{a=$service}", "minimum": 1}
    )


# --- models -------------------------------------------------------------------------------------


def test_defaults() -> None:
    m = metric()
    assert (m.interval, m.count, m.failure_limit, m.inconclusive_limit) == (
        timedelta(minutes=1),
        5,
        None,
        0,
    )
    assert m.effective_failure_limit == 0
    assert metric(consecutive_failure_limit=5).effective_failure_limit is None
    assert metric(failure_limit=2).effective_failure_limit == 2
    g = gate()
    assert (g.initial_delay, g.after_rollback_count, g.mode, g.semi_default, g.countdown) == (
        timedelta(0),
        2,
        "manual",
        "rollback",
        timedelta(minutes=5),
    )
    assert g.canary is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"interval": "2s"}, "a metric is measured at most every 5s"),
        ({"interval": "soon"}, "not a duration: 'soon'"),
        ({"count": 0}, "greater than or equal to 1"),
        ({"failure_limit": -1}, "greater than or equal to 0"),
        ({"consecutive_failure_limit": 0}, "greater than or equal to 1"),
        ({"inconclusive_limit": -1}, "greater than or equal to 0"),
        (
            {"count": 3, "consecutive_failure_limit": 5},
            "consecutive_failure_limit 5 can never be reached in count 3 measurements",
        ),
        (
            {"failure_limit": 2, "consecutive_failure_limit": 3},
            "consecutive_failure_limit 3 never applies: failure_limit 2 already fails the "
            "metric at failure 3",
        ),
        ({"failure_limit": 5}, "failure_limit 5 lets all 5 measurements fail: keep it below count"),
        ({"name": "bad name"}, "String should match pattern"),
        ({"threshold": 1}, "Extra inputs are not permitted"),
        ({"traffic": {"query": "up", "minimum": -1}}, "greater than or equal to 0"),
        ({"traffic": {"query": "up"}}, "Field required"),
    ],
)
def test_metric_validation_messages(fields: dict[str, Any], message: str) -> None:
    data = {"name": "error_rate", "query": QUERY, "success": "<= 0.05", **fields}
    assert message in errors(GateMetric, data)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metrics": []}, "at least 1 item"),
        ({"mode": "yolo"}, "'auto', 'semi' or 'manual'"),
        ({"semi_default": "ignore"}, "'rollback' or 'hold'"),
        ({"countdown": "5s"}, "a countdown lasts at least 10s"),
        ({"after_rollback_count": 0}, "greater than or equal to 1"),
        ({"canary": {"weight": 100}}, "less than or equal to 99"),
        ({"canary": {"weight": 0}}, "greater than or equal to 1"),
        ({"canary": {}}, "Field required"),
    ],
)
def test_gate_validation_messages(fields: dict[str, Any], message: str) -> None:
    data = {"metrics": [{"name": "a", "query": "up", "success": "== 1"}], **fields}
    assert message in errors(Gate, data)


def test_metric_names_are_unique() -> None:
    one = {"name": "a", "query": "up", "success": "== 1"}
    assert "metric names must be unique: a" in errors(Gate, {"metrics": [one, one]})


def test_settings_are_frozen() -> None:
    g = gate()
    with pytest.raises(ValidationError):
        g.mode = "auto"  # type: ignore[misc]


def test_canary_model() -> None:
    assert Canary(weight=10).weight_param == "canary_weight"


EXAMPLE = r"""
# services.<name>.gate.<environment>
metrics:
  - name: http_5xx_ratio
    query: |
      sum(rate(http_requests_total{service="$service", version="$version", code=~"5.."}[1m]))
      / sum(rate(http_requests_total{service="$service", version="$version"}[1m]))
    success: "<= 0.05"
    interval: 1m
    count: 10
    consecutive_failure_limit: 5
    inconclusive_limit: 3
    traffic:
      query: sum(increase(http_requests_total{service="$service", version="$version"}[1m]))
      minimum: 50
  - name: order_latency_p99
    query: |
      histogram_quantile(0.99, sum by (le) (rate(
        order_create_duration_seconds_bucket{service="$service", env="$environment"}[1m])))
    success: "<= 30"
    interval: 1m
    count: 10
    inconclusive_limit: 3
    traffic:
      query: sum(increase(order_create_duration_seconds_count{service="$service"}[1m]))
      minimum: 20
initial_delay: 1m
after_rollback_count: 3
mode: semi
semi_default: rollback
countdown: 5m
"""


def test_the_documented_example_loads() -> None:
    g = Gate.model_validate(yaml.safe_load(EXAMPLE))
    rate = g.metric("http_5xx_ratio")
    assert rate.success == Condition("<=", 0.05)
    assert rate.effective_failure_limit is None
    assert rate.consecutive_failure_limit == 5
    assert 'service="orders"' in expand(rate.query, "orders", "prod", "v2")
    assert g.metric("order_latency_p99").traffic is not None
    with pytest.raises(KeyError):
        g.metric("nope")


def test_unquoted_yaml_operators_are_a_yaml_trap() -> None:
    """Why the example quotes conditions: YAML reads `> 1` as a folded block and `!= 0` as a tag."""
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load("success: > 0.99\n")
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load("success: != 0\n")
