"""The health gate's analysis, pure: measurements in, verdicts and due times out.

Argo Rollouts' semantics (`analysis/analysis.go`, `assessMetricStatus`), with the fixes users ask
for:

- **judging a value**: an error → ``error``; a configured traffic guard giving no data or less
  than its minimum → ``inconclusive`` (low traffic never passes); no data or NaN →
  ``inconclusive`` (not an error, not a failure); otherwise the `success` condition decides.
  ±Inf is judged by the condition: `histogram_quantile` gives +Inf when latency is beyond the
  top bucket, which is a real failure of ``<= 30``.
- **a metric's verdict**, walking its measurements oldest first and stopping at the first rule
  that fires (so a verdict, once reached, never changes):
  ``failed`` when failures exceed the failure limit, or the last `consecutive_failure_limit`
  judged measurements are all failures (our extension: a success ends the run, an inconclusive
  or error measurement neither ends nor extends it); else ``inconclusive`` when inconclusive plus
  error measurements exceed `inconclusive_limit`; else ``passed`` once `count` measurements are
  judged; else ``running``. Failures decide before inconclusives.
  Unlike Argo, only successes and failures count toward `count` (Argo counts inconclusives too,
  not errors): an unjudgeable measurement is taken again, within `inconclusive_limit`, so a
  pass always rests on `count` judged values, and since the failure limit is below `count`, on
  at least one success: low traffic never passes. A rollback's shorter gate (`count` =
  `after_rollback_count`) keeps that promise by capping the failure limit at count - 1 and the
  consecutive run at count: if every one of its measurements failed, it failed.
- **the gate's verdict**: failed if any metric failed, else inconclusive if any is, else passed
  when all passed, else running.

Times are aware datetimes (UTC); nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.deploys.messages import said, shown
from bot.i18n import t
from bot.settings.gates import Gate, GateMetric, format_number

Outcome = Literal["success", "failure", "inconclusive", "error"]
Verdict = Literal["running", "passed", "failed", "inconclusive"]

_MARKS: dict[Outcome, str] = {"success": "✓", "failure": "✗", "inconclusive": "?", "error": "!"}
_NOTE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measurement of one metric, judged."""

    metric: str
    at: datetime
    value: float | None
    outcome: Outcome
    note: str = ""
    """Why, for a card: ``0.071 > 0.05 (failed)``, ``traffic 3 < 10, value 0.5``, ``NaN``…"""
    traffic: float | None = None


def _aware(at: datetime, what: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (UTC), got {at.isoformat()}")


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _NOTE_LIMIT else flat[: _NOTE_LIMIT - 1] + "…"


def judge(
    metric: GateMetric, value: float | None, traffic: float | None = None, *, error: str = ""
) -> tuple[Outcome, str]:
    """Judge one measured value (and the traffic guard's value, when the metric has one)."""
    if error:
        return "error", said("gate.note.error", error=_one_line(error))
    shown = said("gate.note.no_data") if value is None else format_number(value)
    guard = metric.traffic
    if guard is not None:
        if traffic is None or math.isnan(traffic):
            return "inconclusive", said("gate.note.no_traffic", value=shown)
        if traffic < guard.minimum:
            low = {"traffic": format_number(traffic), "minimum": format_number(guard.minimum)}
            return "inconclusive", said("gate.note.low_traffic", value=shown, **low)
    if value is None:
        return "inconclusive", said("gate.note.no_data")
    if math.isnan(value):
        return "inconclusive", "NaN"
    outcome: Outcome = "success" if metric.success.holds(value) else "failure"
    return outcome, metric.success.explain(value)


def measure(
    metric: GateMetric,
    at: datetime,
    value: float | None,
    traffic: float | None = None,
    *,
    error: str = "",
) -> Measurement:
    """A judged `Measurement` of `metric` taken at `at`."""
    _aware(at, "a measurement's time")
    outcome, note = judge(metric, value, traffic, error=error)
    return Measurement(metric.name, at, value, outcome, note, traffic)


def measurements_needed(gate: Gate, metric: GateMetric, *, after_rollback: bool = False) -> int:
    """Measurements of `metric` for a pass: its `count`, or the gate's `after_rollback_count`."""
    return gate.after_rollback_count if after_rollback else metric.count


@dataclass(frozen=True, slots=True)
class _Tally:
    verdict: Verdict
    counted: int
    """Judged measurements (successes and failures), toward `count`."""
    failures: int
    unsure: int
    """Inconclusive and error measurements."""


def _tally(metric: GateMetric, measurements: Sequence[Measurement], needed: int) -> _Tally:
    if needed < 1:
        raise ValueError(f"a metric needs at least 1 measurement, not {needed}")
    limit = metric.effective_failure_limit
    if limit is not None:
        limit = min(limit, needed - 1)
    run_limit = metric.consecutive_failure_limit
    if run_limit is not None:
        run_limit = min(run_limit, needed)
    counted = failures = unsure = run = 0
    for m in sorted(measurements, key=lambda m: m.at):
        if m.outcome == "failure":
            failures += 1
            run += 1
        elif m.outcome == "success":
            run = 0
        if m.outcome in ("inconclusive", "error"):
            unsure += 1
        else:
            counted += 1
        verdict: Verdict | None = None
        if (limit is not None and failures > limit) or (run_limit is not None and run >= run_limit):
            verdict = "failed"
        elif unsure > metric.inconclusive_limit:
            verdict = "inconclusive"
        elif counted >= needed:
            verdict = "passed"
        if verdict is not None:
            return _Tally(verdict, counted, failures, unsure)
    return _Tally("running", counted, failures, unsure)


def metric_verdict(
    metric: GateMetric, measurements: Sequence[Measurement], *, count: int | None = None
) -> Verdict:
    """The verdict on one metric from its measurements (any order; `at` sorts them).
    `count` overrides the metric's own (a rollback's gate; limits are capped to fit it)."""
    return _tally(metric, measurements, metric.count if count is None else count).verdict


def _verdicts(
    gate: Gate, by_metric: Mapping[str, Sequence[Measurement]], after_rollback: bool
) -> dict[str, _Tally]:
    return {
        metric.name: _tally(
            metric,
            by_metric.get(metric.name, ()),
            measurements_needed(gate, metric, after_rollback=after_rollback),
        )
        for metric in gate.metrics
    }


def _combine(verdicts: Sequence[Verdict]) -> Verdict:
    if "failed" in verdicts:
        return "failed"
    if "inconclusive" in verdicts:
        return "inconclusive"
    if all(v == "passed" for v in verdicts):
        return "passed"
    return "running"


def gate_verdict(
    gate: Gate, by_metric: Mapping[str, Sequence[Measurement]], *, after_rollback: bool = False
) -> Verdict:
    """The gate's verdict from each metric's measurements (keys are metric names; names the gate
    does not have are ignored, metrics missing from the mapping have none yet)."""
    tallies = _verdicts(gate, by_metric, after_rollback)
    return _combine([t.verdict for t in tallies.values()])


def next_due(
    gate: Gate,
    metric: GateMetric,
    measurements: Sequence[Measurement],
    started_at: datetime,
    *,
    after_rollback: bool = False,
) -> datetime | None:
    """When `metric` is next measured: `started_at` + `initial_delay` for the first, then the
    last measurement's time + `interval`; None once the metric has a verdict."""
    _aware(started_at, "the gate's start")
    needed = measurements_needed(gate, metric, after_rollback=after_rollback)
    if metric_verdict(metric, measurements, count=needed) != "running":
        return None
    if not measurements:
        return started_at + gate.initial_delay
    return max(m.at for m in measurements) + metric.interval


def gate_next_due(
    gate: Gate,
    by_metric: Mapping[str, Sequence[Measurement]],
    started_at: datetime,
    *,
    after_rollback: bool = False,
) -> datetime | None:
    """The earliest `next_due` over the gate's metrics; None once the gate has a verdict (a
    failed metric ends the gate even while others are still running)."""
    if gate_verdict(gate, by_metric, after_rollback=after_rollback) != "running":
        return None
    due = [
        next_due(gate, m, by_metric.get(m.name, ()), started_at, after_rollback=after_rollback)
        for m in gate.metrics
    ]
    return min((d for d in due if d is not None), default=None)


def summary(
    gate: Gate,
    by_metric: Mapping[str, Sequence[Measurement]],
    lang: str = "en",
    *,
    after_rollback: bool = False,
) -> list[str]:
    """One line per metric for a card in `lang`, e.g. ``error_rate: 2/5 measured, last 0.071 >
    0.05 ✗``."""
    lines = []
    for name, tally in _verdicts(gate, by_metric, after_rollback).items():
        needed = measurements_needed(gate, gate.metric(name), after_rollback=after_rollback)
        done = min(tally.counted, needed)
        parts = [t("gate.line.measured", lang, name=name, done=done, needed=needed)]
        if tally.failures:
            parts.append(t("gate.line.failures", lang, count=tally.failures))
        if tally.unsure:
            parts.append(t("gate.line.unsure", lang, count=tally.unsure))
        taken = by_metric.get(name, ())
        if taken:
            last = max(taken, key=lambda m: m.at)
            note = shown(last.note.removesuffix(" (failed)"), lang)
            parts.append(t("gate.line.last", lang, note=note, mark=_MARKS[last.outcome]))
        else:
            parts.append(t("gate.line.waiting", lang))
        line = t("gate.line.join", lang).join(parts)
        if tally.verdict != "running":
            line = f"{line} → {t(f'gate.verdict.{tally.verdict}', lang)}"
        lines.append(line)
    return lines


def watch_time(gate: Gate, *, after_rollback: bool = False) -> timedelta:
    """How long the gate watches a run at least before it can pass: its initial delay, then
    each metric's measurements one interval apart (the slowest metric decides)."""
    spans = [
        metric.interval * (measurements_needed(gate, metric, after_rollback=after_rollback) - 1)
        for metric in gate.metrics
    ]
    return gate.initial_delay + max(spans, default=timedelta(0))
