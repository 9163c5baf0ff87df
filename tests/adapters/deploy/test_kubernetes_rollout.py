"""kubectl's rollout-status rules and Tocsin's additions (a scale to 0 among them), as a pure
function of a Deployment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fake_kubernetes_objects import deployment
from kubernetes.client import V1Deployment

from adapters.deploy.kubernetes_rollout import PAUSED_BY, RUN_ID, Watch, assess
from bot.ports import Phase

START = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
WATCH = Watch(run_id="run-1", generation=2, started=START, deadline=timedelta(minutes=10))


def rolled(status: dict[str, Any], *, paused_by: str | None = None, **spec: Any) -> V1Deployment:
    body = deployment()
    body["metadata"]["generation"] = 2
    body["spec"]["template"]["metadata"]["annotations"] = {RUN_ID: "run-1"}
    body["spec"].update(spec)
    if paused_by:
        body["metadata"]["annotations"][PAUSED_BY] = paused_by
    body["status"] = {"observedGeneration": 2, **status}
    parsed = V1Deployment.from_dict(body)
    assert parsed is not None
    return parsed


def counts(updated: int, total: int, available: int) -> dict[str, int]:
    return {"updatedReplicas": updated, "replicas": total, "availableReplicas": available}


@pytest.mark.parametrize(
    ("status", "phase", "message"),
    [
        ({"observedGeneration": 1}, Phase.RUNNING, "waiting for the Deployment controller"),
        (counts(1, 4, 3), Phase.RUNNING, "1/3 updated, 3 available"),
        (counts(3, 4, 3), Phase.RUNNING, "3/3 updated, 3 available, 1 old pending termination"),
        (counts(3, 3, 2), Phase.RUNNING, "3/3 updated, 2 available, waiting for availability"),
        (counts(3, 3, 3), Phase.SUCCEEDED, "3/3 updated, 3 available: rollout complete"),
    ],
)
def test_kubectl_rules(status: dict[str, Any], phase: Phase, message: str) -> None:
    result = assess(rolled(status), WATCH, START)
    assert result.phase is phase
    assert result.message.startswith(message)


def test_progress_is_the_share_of_updated_replicas() -> None:
    assert assess(rolled(counts(1, 4, 3)), WATCH, START).progress == pytest.approx(1 / 3)
    assert assess(rolled(counts(0, 0, 0), replicas=0), WATCH, START).progress == 1.0


def test_the_deadline_condition_counts_only_once_the_spec_is_observed() -> None:
    condition = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    stale = rolled({"observedGeneration": 1, "conditions": [condition]})
    assert assess(stale, WATCH, START).phase is Phase.RUNNING
    seen = rolled({**counts(1, 4, 3), "conditions": [condition]})
    assert assess(seen, WATCH, START).phase is Phase.FAILED


def test_a_pause_by_someone_else_keeps_the_run_waiting_until_the_deadline() -> None:
    paused = rolled(counts(1, 4, 3), paused=True)
    result = assess(paused, WATCH, START)
    assert result.phase is Phase.RUNNING
    assert "paused by someone else" in result.message
    late = assess(paused, WATCH, START + timedelta(minutes=11))
    assert late.phase is Phase.FAILED
    assert late.message.startswith("not finished within 10m")


def test_a_pause_by_this_runs_cancel_is_cancelled() -> None:
    result = assess(rolled(counts(1, 4, 3), paused=True, paused_by="run-1"), WATCH, START)
    assert result.phase is Phase.CANCELLED


def test_a_template_of_another_change_fails_the_run() -> None:
    body = rolled(counts(3, 3, 3))
    other = Watch(run_id="run-2", generation=2, started=START, deadline=timedelta(minutes=10))
    result = assess(body, other, START)
    assert result.phase is Phase.FAILED
    assert result.message == "the Deployment was changed since, by run run-1"


@pytest.mark.parametrize(
    ("status", "phase", "message"),
    [
        (
            {"observedGeneration": 1},
            Phase.RUNNING,
            "waiting for the Deployment controller to see the change",
        ),
        ({"replicas": 2, "availableReplicas": 2}, Phase.RUNNING, "scaling to 0: 2 pod(s) left"),
        ({"terminatingReplicas": 1}, Phase.RUNNING, "scaling to 0: 1 pod(s) left"),
        ({}, Phase.SUCCEEDED, "scaled to 0: no pods left"),  # zero counts are left out
    ],
)
def test_a_deployment_scaled_to_0_is_done_when_no_pod_is_left(
    status: dict[str, Any], phase: Phase, message: str
) -> None:
    result = assess(rolled(status, replicas=0), WATCH, START)
    assert (result.phase, result.message) == (phase, message)


def test_a_scale_to_0_that_never_ends_fails_at_the_deadline() -> None:
    late = assess(rolled({"replicas": 1}, replicas=0), WATCH, START + timedelta(minutes=11))
    assert late.phase is Phase.FAILED
    assert late.message == "not finished within 10m: scaling to 0: 1 pod(s) left"


def test_a_scale_to_0_is_still_this_runs_only_while_the_template_is() -> None:
    other = Watch(run_id="run-2", generation=2, started=START, deadline=timedelta(minutes=10))
    assert assess(rolled({}, replicas=0), other, START).phase is Phase.FAILED
