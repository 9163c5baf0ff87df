"""Where a Deployment's rollout stands: kubectl's ``rollout status`` rules, plus Tocsin's own.

kubectl (``rollout_status.go``) waits until the controller has seen the latest spec
(``status.observedGeneration >= metadata.generation``), then: a ``Progressing`` condition with
reason ``ProgressDeadlineExceeded`` is a failure; fewer updated replicas than desired, old
replicas still present, or updated replicas not yet available mean "still rolling"; else done.
Tocsin adds: the pod template must still carry this run's id (else another change replaced it),
a pause put there by this run's cancel is "cancelled", a Deployment scaled to 0 (a canary taken
away) is done once it has no pod left, terminating ones included where the API server counts them
(``status.terminatingReplicas``), and a rollout slower than the configured progress deadline is
failed. A pure function of the Deployment and `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from kubernetes.client import V1Deployment

from bot.ports import Phase, RunStatus
from bot.settings.durations import format_duration

RUN_ID = "tocsin.dev/run-id"
"""Pod template annotation: the Tocsin run whose change the template is."""
PAUSED_BY = "tocsin.dev/paused-by"
"""Deployment annotation: the Tocsin run whose cancel paused the rollout."""
CHANGE_CAUSE = "kubernetes.io/change-cause"
DEADLINE_REASON = "ProgressDeadlineExceeded"


class Timed(Protocol):
    """A run's start and how long it may take."""

    @property
    def started(self) -> datetime: ...

    @property
    def deadline(self) -> timedelta: ...


@dataclass(frozen=True, slots=True)
class Watch:
    """What a run expects of the Deployment (kept in `RunRef.data`)."""

    run_id: str
    generation: int
    """The Deployment's generation right after Tocsin's patch."""
    started: datetime
    deadline: timedelta


def container_image(deployment: V1Deployment, container: str) -> str | None:
    pod = deployment.spec.template.spec if deployment.spec else None
    for item in pod.containers if pod is not None else []:
        if item.name == container:
            return item.image
    return None


def desired_replicas(deployment: V1Deployment) -> int:
    """``spec.replicas``, 1 when unset (the API server's default)."""
    replicas = deployment.spec.replicas if deployment.spec else None
    return replicas if replicas is not None else 1


def template_annotations(deployment: V1Deployment) -> dict[str, str]:
    meta = deployment.spec.template.metadata if deployment.spec else None
    return dict(meta.annotations or {}) if meta is not None else {}


def object_annotations(deployment: V1Deployment) -> dict[str, str]:
    meta = deployment.metadata
    return dict(meta.annotations or {}) if meta is not None else {}


def generation(deployment: V1Deployment) -> int:
    meta = deployment.metadata
    return (meta.generation or 0) if meta is not None else 0


def assess(deployment: V1Deployment, watch: Watch, now: datetime) -> RunStatus:
    spec, status = deployment.spec, deployment.status
    desired = desired_replicas(deployment)
    updated = (status.updated_replicas or 0) if status else 0
    total = (status.replicas or 0) if status else 0
    available = (status.available_replicas or 0) if status else 0
    counts = f"{updated}/{desired} updated, {available} available"
    progress = min(1.0, updated / desired) if desired > 0 else 1.0

    changed = changed_since(deployment, watch.run_id)
    if changed is not None:
        return changed
    if spec.paused and object_annotations(deployment).get(PAUSED_BY) == watch.run_id:
        return RunStatus(
            Phase.CANCELLED,
            f"rollout paused by Tocsin at {counts}; pods of both versions may be running "
            "(roll back, or resume with kubectl rollout resume)",
            progress,
        )
    observed = (status.observed_generation or 0) if status else 0
    if observed < max(watch.generation, generation(deployment)):
        return running("waiting for the Deployment controller to see the change", watch, now)
    for condition in (status.conditions or []) if status else []:
        if condition.type == "Progressing" and condition.reason == DEADLINE_REASON:
            detail = condition.message or "the rollout made no progress"
            return RunStatus(Phase.FAILED, f"progress deadline exceeded: {detail}", progress)
    if desired == 0:
        return _scaled_down(deployment, watch, now)
    paused = " (paused by someone else: kubectl rollout resume)" if spec.paused else ""
    if updated < desired:
        return running(f"{counts}{paused}", watch, now, progress)
    if total > updated:
        return running(f"{counts}, {total - updated} old pending termination", watch, now, 1.0)
    if available < updated:
        return running(f"{counts}, waiting for availability", watch, now, 1.0)
    return RunStatus(Phase.SUCCEEDED, f"{counts}: rollout complete", 1.0)


def changed_since(deployment: V1Deployment, run_id: str) -> RunStatus | None:
    """A failure when the pod template is no longer `run_id`'s: another change replaced it."""
    owner = template_annotations(deployment).get(RUN_ID)
    if owner == run_id:
        return None
    by = f"run {owner}" if owner else "someone else"
    return RunStatus(Phase.FAILED, f"the Deployment was changed since, by {by}")


def _scaled_down(deployment: V1Deployment, watch: Watch, now: datetime) -> RunStatus:
    """A Deployment scaled to 0 has nothing to update or make available: it is done when its
    pods are gone, so that no traffic reaches the release it ran."""
    status = deployment.status
    left = ((status.replicas or 0) + (status.terminating_replicas or 0)) if status else 0
    if left:
        return running(f"scaling to 0: {left} pod(s) left", watch, now)
    return RunStatus(Phase.SUCCEEDED, "scaled to 0: no pods left", 1.0)


def running(message: str, watch: Timed, now: datetime, progress: float | None = None) -> RunStatus:
    """Still running, or failed once the run has taken longer than its deadline."""
    if now - watch.started > watch.deadline:
        limit = format_duration(watch.deadline)
        return RunStatus(Phase.FAILED, f"not finished within {limit}: {message}", progress)
    return RunStatus(Phase.RUNNING, message, progress)
