"""Where a Rollout stands for each kind of run, as a pure function of the Rollout: Argo Rollouts'
phases (Healthy, Progressing, Paused, Degraded), aborts, stale answers and Tocsin's own rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fake_kubernetes_objects import rollout

from adapters.deploy.kubernetes_argo_status import RolloutWatch, assess, canary_weight
from bot.ports import Phase

START = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
STABLE, CANARY = "5c8f7d9b6a", "7d9b6a5c8f"
PAUSE = {"pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-01-05T03:01:00Z"}]}
ABORTED = {"abort": True, "conditions": [{"type": "Progressing", "reason": "RolloutAborted"}]}


def watch(kind: str, **changes: Any) -> RolloutWatch:
    base: dict[str, Any] = {
        "run_id": "run-1",
        "kind": kind,
        "owner": "run-1",
        "generation": 2,
        "started": START,
        "deadline": timedelta(minutes=10),
        "requested_weight": 10,
    }
    return RolloutWatch(**{**base, **changes})


def mid_canary(**status: Any) -> dict[str, Any]:
    """run-1's Rollout, between the stable release and the canary, its status as given."""
    body = rollout()
    body["metadata"]["generation"] = 2
    body["spec"]["template"]["metadata"]["annotations"] = {"tocsin.dev/run-id": "run-1"}
    body["status"] = {
        "observedGeneration": "2",
        "stableRS": STABLE,
        "currentPodHash": CANARY,
        "currentStepIndex": 1,
        "replicas": 5,
        "updatedReplicas": 1,
        "availableReplicas": 5,
        **status,
    }
    return body


def promoted() -> dict[str, Any]:
    return mid_canary(phase="Healthy", stableRS=CANARY, currentStepIndex=4, availableReplicas=4)


PROGRESSING = mid_canary(phase="Progressing", message="more replicas need to be updated")
PAUSED = mid_canary(phase="Paused", message="CanaryPauseStep", **PAUSE)
DEGRADED = mid_canary(
    phase="Degraded", message="ProgressDeadlineExceeded: ReplicaSet has timed out progressing."
)
ABORTED_BY_ANALYSIS = mid_canary(
    phase="Degraded", message="RolloutAborted: Rollout aborted update to revision 2", **ABORTED
)


@pytest.mark.parametrize(
    ("kind", "body", "phase", "message"),
    [
        ("full", promoted(), Phase.SUCCEEDED, "Healthy: 4/4 available"),
        (
            "full",
            PROGRESSING,
            Phase.RUNNING,
            "Progressing at step 1/4, canary weight 20%: more replicas need to be updated",
        ),
        ("full", PAUSED, Phase.RUNNING, "Paused at step 1/4, canary weight 20%: CanaryPauseStep"),
        (
            "full",
            DEGRADED,
            Phase.FAILED,
            "Rollout degraded: ProgressDeadlineExceeded: ReplicaSet has timed out progressing.",
        ),
        (
            "full",
            ABORTED_BY_ANALYSIS,
            Phase.FAILED,
            "Rollout aborted: RolloutAborted: Rollout aborted update to revision 2",
        ),
        (
            "canary",
            PAUSED,
            Phase.SUCCEEDED,
            "canary up: paused at step 1/4, canary weight 20% (the Rollout's steps set the "
            "weight; Tocsin's 10% is not applied)",
        ),
        (
            "canary",
            mid_canary(phase="Paused", message="manually paused"),
            Phase.RUNNING,
            "Paused at step 1/4, canary weight 20%: manually paused",
        ),
        (
            "canary",
            promoted(),
            Phase.FAILED,
            "the Rollout was fully promoted before Tocsin's gate judged the canary (someone "
            "promoted it, or a timed pause step ran out)",
        ),
        (
            "canary",
            ABORTED_BY_ANALYSIS,
            Phase.FAILED,
            "Rollout aborted: RolloutAborted: Rollout aborted update to revision 2",
        ),
        (
            "promote",
            mid_canary(phase="Degraded", promoteFull=True, **ABORTED),  # not read as the answer
            Phase.RUNNING,
            "waiting for the Argo Rollouts controller to promote fully",
        ),
        ("promote", promoted(), Phase.SUCCEEDED, "Healthy: 4/4 available"),
        (
            "abort",
            mid_canary(phase="Paused", abort=True, **PAUSE),
            Phase.RUNNING,
            "waiting for the Argo Rollouts controller to abort the canary",
        ),
        ("abort", ABORTED_BY_ANALYSIS, Phase.RUNNING, "aborted; 1 canary pod(s) left"),
        (
            "abort",
            mid_canary(phase="Degraded", message="RolloutAborted: …", updatedReplicas=0, **ABORTED),
            Phase.SUCCEEDED,
            "canary aborted, the stable release serves: RolloutAborted: …",
        ),
    ],
)
def test_each_kind_of_run_reads_the_rollouts_phase(
    kind: str, body: dict[str, Any], phase: Phase, message: str
) -> None:
    result = assess(body, watch(kind), START)
    assert (result.phase, result.message) == (phase, message)


def test_an_abort_with_traffic_routing_ends_when_the_canary_weight_is_0() -> None:
    routed = {"canary": {"weights": {"canary": {"weight": 20}, "stable": {"weight": 80}}}}
    body = mid_canary(phase="Degraded", **ABORTED, **routed)
    result = assess(body, watch("abort"), START)
    assert (result.phase, result.message) == (
        Phase.RUNNING,
        "aborted; the canary still has 20% of the traffic",
    )
    body["status"]["canary"]["weights"]["canary"]["weight"] = 0
    assert assess(body, watch("abort"), START).phase is Phase.SUCCEEDED  # pods may linger


def test_a_stale_status_is_not_read_as_the_answer() -> None:
    stale = mid_canary(phase="Degraded", observedGeneration="1")
    result = assess(stale, watch("full"), START)
    assert (result.phase, result.message) == (
        Phase.RUNNING,
        "waiting for the Argo Rollouts controller to see the change",
    )


def test_tocsins_rules_come_first() -> None:
    result = assess(PAUSED, watch("full", owner="run-0"), START)
    assert (result.phase, result.message) == (
        Phase.FAILED,
        "the Rollout was changed since, by run run-1",
    )
    paused = mid_canary(phase="Paused", message="manually paused")
    paused["spec"]["paused"] = True
    paused["metadata"]["annotations"]["tocsin.dev/paused-by"] = "run-1"
    assert assess(paused, watch("full"), START).phase is Phase.CANCELLED
    late = assess(PAUSED, watch("full"), START + timedelta(minutes=11))
    assert late.phase is Phase.FAILED
    assert late.message == "not finished within 10m: Paused at step 1/4, canary weight 20%: " + (
        "CanaryPauseStep"
    )


@pytest.mark.parametrize(
    ("status", "weight"),
    [
        ({"currentStepIndex": 0}, 20),
        ({"currentStepIndex": 3}, 50),
        ({"currentStepIndex": 4}, 100),
        ({"currentStepIndex": 3, "abort": True}, 0),
        ({"canary": {"weights": {"canary": {"weight": 35}}}}, 35),
    ],
)
def test_the_canary_weight_is_the_routers_or_the_steps(status: dict[str, Any], weight: int) -> None:
    assert canary_weight(mid_canary(**status)) == weight


def test_a_rollout_without_canary_steps_says_so() -> None:
    body = mid_canary(phase="Progressing")
    body["spec"]["strategy"] = {"blueGreen": {"activeService": "orders"}}
    result = assess(body, watch("full"), START)
    assert result.message == "Progressing"
    assert result.progress is None
