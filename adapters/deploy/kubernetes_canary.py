"""What a Kubernetes run changes: which Deployments, to how many replicas, with which patch.

The canary is a second Deployment (the target's ``canary_deployment``) whose pods carry the
labels the Service selects plus a track label, so the Service spreads requests over stable and
canary pods alike and the canary's share of the traffic is its share of the pods:

- a canary deploy (``stage`` ``canary``) puts the version on the canary only, at
  ``max(1, round(stable * w / (100 - w)))`` replicas for a weight of w %, ``stable`` being the
  stable Deployment's ``spec.replicas``; the stable Deployment is left as it is;
- a canary rollback puts the stable version back on the canary at 0 replicas;
- a run of the whole service (``stage`` ``""``) rolls the stable Deployment and, when there is a
  canary, puts the same version on it at 0 replicas: a promotion leaves no canary pods behind.

The run follows the first Deployment of its plan. Each Deployment gets one strategic-merge patch:
the container's image, ``spec.replicas`` where the plan sets it, and the annotations
``tocsin.dev/run-id`` (which makes a repeated start patch nothing twice) and
``kubernetes.io/change-cause``; a pause of Tocsin's own is lifted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes.client import V1Deployment

from adapters.deploy.kubernetes_rollout import CHANGE_CAUSE, PAUSED_BY, RUN_ID, object_annotations
from adapters.deploy.kubernetes_settings import KubernetesTarget
from bot.errors import PermanentDelivery
from bot.ports import DeployRequest

CANARY = "canary"


@dataclass(frozen=True, slots=True)
class Change:
    deployment: str
    replicas: int | None
    """The replicas to set; None leaves the scale to the Deployment (or its autoscaler)."""


def plan(request: DeployRequest, target: KubernetesTarget, stable_replicas: int) -> list[Change]:
    """The Deployments `request` changes, the one its run follows first."""
    canary = target.canary_deployment
    if request.stage == "":
        scale_down = [Change(canary, 0)] if canary else []
        return [Change(target.deployment, None), *scale_down]
    if request.stage != CANARY:
        raise PermanentDelivery(f"unknown deploy stage {request.stage!r} (canary or none)")
    if canary is None:
        raise PermanentDelivery(
            f"a canary stage needs the target setting canary_deployment (the canary's "
            f"Deployment); {target.namespace}/{target.deployment} has none"
        )
    if request.action == "rollback":
        return [Change(canary, 0)]
    return [Change(canary, canary_replicas(stable_replicas, request.canary_weight))]


def canary_replicas(stable: int, weight: int) -> int:
    """The canary's replicas for `weight` percent of the pods next to `stable` ones: at least
    one, or the canary would take no traffic at all."""
    if not 1 <= weight <= 99:
        raise PermanentDelivery(f"a canary weight must be 1–99 percent, not {weight}")
    return max(1, round(stable * weight / (100 - weight)))


def rollout_patch(
    request: DeployRequest, change: Change, container: str, image: str, deployment: V1Deployment
) -> dict[str, Any]:
    """The strategic-merge patch that makes `deployment` what `change` asks."""
    why = cause(request)
    body: dict[str, Any] = {
        "metadata": {"annotations": {CHANGE_CAUSE: why}},
        "spec": {
            "template": {
                "metadata": {"annotations": {RUN_ID: request.run_id, CHANGE_CAUSE: why}},
                "spec": {"containers": [{"name": container, "image": image}]},
            }
        },
    }
    if change.replicas is not None:
        body["spec"]["replicas"] = change.replicas
    if deployment.spec.paused and PAUSED_BY in object_annotations(deployment):
        body["metadata"]["annotations"][PAUSED_BY] = None  # Tocsin's own pause: resume
        body["spec"]["paused"] = False
    return body


def cause(request: DeployRequest) -> str:
    """The change cause ``kubectl rollout history`` shows: which run changed what, and who asked."""
    what = f"{request.action} {request.service} {request.version}"
    if request.stage:
        what = f"{request.stage} {what}"
    if request.canary_weight:
        what += f" at {request.canary_weight}%"
    text = f"Tocsin {request.run_id}: {what}"
    return f"{text} requested by {request.requested_by}" if request.requested_by else text
