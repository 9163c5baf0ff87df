"""Where an Argo Rollouts ``Rollout`` stands for a Tocsin run: a pure function of the Rollout
(as the API returns it, a mapping) and `now`.

The Argo Rollouts controller writes the verdict into ``status.phase`` and ``status.message``
(``Healthy``, ``Progressing``, ``Paused``, ``Degraded``); a client trusts it only once
``status.observedGeneration`` (a string) has caught up with ``metadata.generation``, as
``kubectl argo rollouts status`` does. A change of the pod template resets the controller's
``abort``, ``promoteFull`` and pause conditions and starts the steps again.

What a run waits for depends on its kind (`RolloutWatch.kind`):

- ``full`` (a deploy or rollback of the whole service): ``Healthy`` with the stable ReplicaSet
  the current one (``status.stableRS == status.currentPodHash``); a pause is still running (the
  Rollout's own steps, or someone's pause), ``Degraded`` or an abort is failed.
- ``promote`` (the promotion of a Tocsin canary stage through ``status.promoteFull``): as
  ``full``, once the controller has taken the request (it clears ``promoteFull`` when it makes
  the canary stable), so that the pause or abort it is leaving is not read as the answer.
- ``canary`` (a Tocsin canary stage): succeeded at a pause step (phase ``Paused`` with a
  ``CanaryPauseStep`` pause condition), the canary being up at the weight the Rollout's steps
  set; a Rollout fully promoted before Tocsin's gate judged the canary is failed.
- ``abort`` (a canary taken away): succeeded once the controller reports the abort (a condition
  with reason ``RolloutAborted``) and the stable ReplicaSet takes the traffic again (canary
  weight 0 with traffic routing, else no canary pod left). Degraded is this run's intended end.

Before all: the pod template must still carry the run id it had when the run began (else another
change replaced it), a pause put there by this run's cancel is "cancelled", and a run slower than
the configured progress deadline is failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adapters.deploy.kubernetes_rollout import PAUSED_BY, RUN_ID, running
from bot.ports import Phase, RunStatus

FULL, PROMOTE, CANARY, ABORT = "full", "promote", "canary", "abort"
PAUSE_STEP = "CanaryPauseStep"
ABORTED = "RolloutAborted"

Body = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RolloutWatch:
    """What a run expects of the Rollout (kept in `RunRef.data`)."""

    run_id: str
    kind: str
    owner: str | None
    """The run id the pod template carries for this run: this run's own after a patch, else the
    one found at the start (the canary stage's, for a promotion or an abort, which leave the
    template alone)."""
    generation: int
    started: datetime
    deadline: timedelta
    requested_weight: int = 0
    """Tocsin's canary weight, only reported: the Rollout's steps set the weight."""


def template_image(body: Body, container: str) -> str | None:
    pod = _dig(body, "spec", "template", "spec")
    for item in pod.get("containers") or []:
        if item.get("name") == container:
            return str(item.get("image", ""))
    return None


def template_run(body: Body) -> str | None:
    owner = _dig(body, "spec", "template", "metadata", "annotations").get(RUN_ID)
    return str(owner) if owner is not None else None


def generation(body: Body) -> int:
    return int(_dig(body, "metadata").get("generation") or 0)


def mid_update(body: Body) -> bool:
    """The controller is between two releases: the current pod template is not the stable one
    (a canary is up, paused, progressing or aborted)."""
    status = _dig(body, "status")
    return bool(status.get("stableRS")) and status.get("stableRS") != status.get("currentPodHash")


def has_pause_step(body: Body) -> bool:
    return any("pause" in step for step in _steps(body))


def assess(body: Body, watch: RolloutWatch, now: datetime) -> RunStatus:
    owner = template_run(body)
    if owner != watch.owner:
        by = f"run {owner}" if owner else "someone else"
        return RunStatus(Phase.FAILED, f"the Rollout was changed since, by {by}")
    status = _dig(body, "status")
    if _dig(body, "spec").get("paused") and _annotations(body).get(PAUSED_BY) == watch.run_id:
        return RunStatus(
            Phase.CANCELLED,
            f"Rollout paused by Tocsin{_at(body)}; pods of both versions may be running "
            "(roll back, or set spec.paused to false to resume)",
            _progress(body),
        )
    observed = int(status.get("observedGeneration") or 0)
    if observed < max(watch.generation, generation(body)):
        return running("waiting for the Argo Rollouts controller to see the change", watch, now)
    if watch.kind == ABORT:
        return _aborting(body, watch, now)
    if watch.kind == PROMOTE and status.get("promoteFull"):
        return running("waiting for the Argo Rollouts controller to promote fully", watch, now)
    return _verdict(body, watch, now)


def _verdict(body: Body, watch: RolloutWatch, now: datetime) -> RunStatus:
    status = _dig(body, "status")
    phase, message = status.get("phase") or "Progressing", status.get("message") or ""
    if phase == "Degraded" or status.get("abort"):
        what = "aborted" if status.get("abort") else "degraded"
        return RunStatus(Phase.FAILED, f"Rollout {what}: {message or phase}", _progress(body))
    if phase == "Healthy" and not mid_update(body):
        if watch.kind == CANARY:
            return RunStatus(
                Phase.FAILED,
                "the Rollout was fully promoted before Tocsin's gate judged the canary "
                "(someone promoted it, or a timed pause step ran out)",
            )
        available = int(status.get("availableReplicas") or 0)
        replicas = _dig(body, "spec").get("replicas", 1)
        return RunStatus(Phase.SUCCEEDED, f"Healthy: {available}/{replicas} available", 1.0)
    reasons = [str(c.get("reason")) for c in status.get("pauseConditions") or []]
    if phase == "Paused" and watch.kind == CANARY and PAUSE_STEP in reasons:
        return RunStatus(
            Phase.SUCCEEDED,
            f"canary up: paused{_at(body)} (the Rollout's steps set the weight; "
            f"Tocsin's {watch.requested_weight}% is not applied)",
            _progress(body),
        )
    why = ", ".join(reasons) or message
    detail = f"{phase}{_at(body)}{f': {why}' if why else ''}"
    return running(detail, watch, now, _progress(body))


def _aborting(body: Body, watch: RolloutWatch, now: datetime) -> RunStatus:
    """A canary is taken away once the controller has aborted the update and no traffic
    reaches the canary any more."""
    status = _dig(body, "status")
    seen = any(c.get("reason") == ABORTED for c in status.get("conditions") or [])
    if not (status.get("abort") and seen):
        return running("waiting for the Argo Rollouts controller to abort the canary", watch, now)
    weight, pods = _routed_weight(body), int(status.get("updatedReplicas") or 0)
    if weight:
        return running(f"aborted; the canary still has {weight}% of the traffic", watch, now)
    if weight is None and pods:
        return running(f"aborted; {pods} canary pod(s) left", watch, now)
    detail = status.get("message") or ABORTED
    return RunStatus(Phase.SUCCEEDED, f"canary aborted, the stable release serves: {detail}", 1.0)


def canary_weight(body: Body) -> int | None:
    """The canary's share of the traffic: the traffic router's where it reports one, else the
    last ``setWeight`` up to the current step (as the controller computes it); None without
    canary steps."""
    routed = _routed_weight(body)
    if routed is not None:
        return routed
    steps, status = _steps(body), _dig(body, "status")
    if not steps:
        return None
    index = int(status.get("currentStepIndex") or 0)
    if status.get("abort"):
        return 0
    if index >= len(steps):
        return 100
    weights = [int(step["setWeight"]) for step in steps[: index + 1] if "setWeight" in step]
    return weights[-1] if weights else 0


def _routed_weight(body: Body) -> int | None:
    routed = _dig(body, "status", "canary", "weights", "canary")
    return int(routed["weight"]) if "weight" in routed else None


def _at(body: Body) -> str:
    """`` at step 1/4, canary weight 20%`` where the Rollout has canary steps."""
    steps, weight = _steps(body), canary_weight(body)
    if not steps:
        return ""
    index = int(_dig(body, "status").get("currentStepIndex") or 0)
    return f" at step {index}/{len(steps)}, canary weight {weight}%"


def _progress(body: Body) -> float | None:
    steps = _steps(body)
    index = int(_dig(body, "status").get("currentStepIndex") or 0)
    return min(1.0, index / len(steps)) if steps else None


def _steps(body: Body) -> list[dict[str, Any]]:
    return list(_dig(body, "spec", "strategy", "canary").get("steps") or [])


def _annotations(body: Body) -> dict[str, str]:
    return dict(_dig(body, "metadata", "annotations"))


def _dig(body: Body, *keys: str) -> Mapping[str, Any]:
    """The mapping at `keys`, empty where a key is missing or null."""
    found: Any = body
    for key in keys:
        found = found.get(key) if isinstance(found, Mapping) else None
    return found if isinstance(found, Mapping) else {}
