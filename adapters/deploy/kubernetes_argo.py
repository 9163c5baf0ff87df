"""Kubernetes runs on an Argo Rollouts ``Rollout`` (the target's ``workload: rollout``).

Custom resources take JSON merge patches, which replace lists whole: the patch of the pod
template carries the Rollout's whole ``containers`` list as read, only our container's image
changed, and the ``metadata.resourceVersion`` it was read at, so that a change made in between
is refused (409, retried from a fresh read) rather than overwritten. The controller's own
switches (``abort``, ``promoteFull``) live in the status subresource, patched on its own, as
``kubectl argo rollouts abort`` and ``promote --full`` do.

- deploy or rollback of the whole service (stage ""): a template without ``image:version`` gets
  it, with the annotations ``tocsin.dev/run-id`` and ``kubernetes.io/change-cause`` (a template
  that already carries the run id is not patched again). A template that has it while the
  Rollout is between releases is the promotion of a Tocsin canary stage: ``status.promoteFull``
  skips the remaining steps, pauses and analyses, and the template is left alone (patching it
  would start the canary again). A template that has it on a settled Rollout needs nothing.
- canary stage deploy: the template is patched as above; the Rollout's own steps set the weight
  and the run ends at the first pause step (`kubernetes_argo_status`). A Rollout without a pause
  step would promote at once, so the stage is refused.
- canary stage rollback: ``status.abort`` takes the canary away (traffic back to the stable
  ReplicaSet, the template keeps the canary's version until the next release). A Rollout
  already on the stable version needs nothing; one fully on another version has no canary to
  take away, and the run is refused.
- cancel: ``spec.paused`` and the annotation ``tocsin.dev/paused-by``, while the template is
  still the run's; the next run lifts a pause of Tocsin's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adapters.deploy.kubernetes_api import ROLLOUT, Gone, KubernetesApi
from adapters.deploy.kubernetes_argo_status import (
    ABORT,
    CANARY,
    FULL,
    PROMOTE,
    RolloutWatch,
    assess,
    generation,
    has_pause_step,
    mid_update,
    template_image,
    template_run,
)
from adapters.deploy.kubernetes_canary import cause
from adapters.deploy.kubernetes_rollout import CHANGE_CAUSE, PAUSED_BY, RUN_ID
from adapters.deploy.kubernetes_settings import KubernetesTarget
from bot.errors import PermanentDelivery
from bot.ports import DeployRequest, Phase, RunRef, RunStatus

Patch = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    spec: Patch | None = None
    """A merge patch of the Rollout (template, annotations, Tocsin's pause lifted)."""
    status: Patch | None = None
    """A merge patch of its status subresource (``abort``, ``promoteFull``)."""

    @property
    def sets_template(self) -> bool:
        """The pod template gets this run's image and run id."""
        return "template" in ((self.spec or {}).get("spec") or {})


async def start(
    api: KubernetesApi, request: DeployRequest, target: KubernetesTarget, image: str, now: datetime
) -> RunRef:
    namespace, name = target.namespace, target.deployment
    body = await api.read(ROLLOUT, namespace, name)
    if template_image(body, target.container) is None:
        raise PermanentDelivery(f"Rollout {namespace}/{name} has no container {target.container!r}")
    change = plan(request, body, target, image)
    owner = request.run_id if change.sets_template else template_run(body)
    if change.status:  # before any unpause, so that no step runs in between
        await api.patch(
            ROLLOUT, namespace, name, change.status, dry_run=request.dry_run, status=True
        )
    if change.spec:
        body = await api.patch(ROLLOUT, namespace, name, change.spec, dry_run=request.dry_run)
    observed = generation(body)
    data: dict[str, Any] = {
        "workload": "rollout",
        "namespace": namespace,
        "rollout": name,
        "kind": change.kind,
        "owner": owner,
        "generation": observed,
        "started": now.isoformat(),
        "weight": request.canary_weight,
        "dry_run": request.dry_run,
    }
    if request.dry_run:
        data["accepted"] = _accepted(change, image, f"{namespace}/{name}")
    suffix = f":{change.kind}" if change.kind in (PROMOTE, ABORT) else ""
    return RunRef(id=f"{namespace}/{name}@{observed}{suffix}", data=data)


def plan(
    request: DeployRequest, body: dict[str, Any], target: KubernetesTarget, image: str
) -> Change:
    """What `request` changes on the Rollout `body`."""
    if request.stage not in ("", CANARY):
        raise PermanentDelivery(f"unknown deploy stage {request.stage!r} (canary or none)")
    where = f"{target.namespace}/{target.deployment}"
    current = template_image(body, target.container)
    if request.stage == CANARY and request.action == "rollback":
        if current == image:
            return Change(FULL, _resumed(body))
        if mid_update(body):
            return Change(ABORT, _resumed(body), {"status": {"abort": True}})
        raise PermanentDelivery(
            f"no canary to take away: the Rollout {where} runs {current} fully; "
            "roll the whole service back instead"
        )
    if request.stage == CANARY and not has_pause_step(body):
        raise PermanentDelivery(
            f"the Rollout {where} has no pause step in strategy.canary.steps, so it would "
            "promote at once: add one (pause: {}) where Tocsin's gate should judge the canary"
        )
    kind = CANARY if request.stage else FULL
    if template_run(body) == request.run_id and not request.dry_run:
        return Change(kind)  # started again after a lost answer: patched already
    if kind == FULL and current == image:
        if mid_update(body):
            return Change(PROMOTE, _resumed(body), {"status": {"promoteFull": True}})
        return Change(FULL, _resumed(body))
    return Change(kind, template_patch(request, body, target.container, image))


def template_patch(
    request: DeployRequest, body: dict[str, Any], container: str, image: str
) -> Patch:
    """The merge patch that puts `image` on `container`, the others kept as they are."""
    why = cause(request)
    pod = body["spec"]["template"]["spec"]
    containers = [
        {**item, "image": image} if item.get("name") == container else item
        for item in pod["containers"]
    ]
    patch: Patch = {
        "metadata": {
            "resourceVersion": body["metadata"].get("resourceVersion"),
            "annotations": {CHANGE_CAUSE: why},
        },
        "spec": {
            "template": {
                "metadata": {"annotations": {RUN_ID: request.run_id, CHANGE_CAUSE: why}},
                "spec": {"containers": containers},
            }
        },
    }
    return _resumed(body, patch) or patch


async def status(
    api: KubernetesApi, ref: RunRef, request: DeployRequest, now: datetime, deadline: timedelta
) -> RunStatus:
    data = ref.data
    where = f"{data['namespace']}/{data['rollout']}"
    if data.get("dry_run"):
        return RunStatus(Phase.SUCCEEDED, f"dry run: {data['accepted']}; nothing changed", 1.0)
    try:
        body = await api.read(ROLLOUT, data["namespace"], data["rollout"])
    except Gone:
        return RunStatus(Phase.FAILED, f"the Rollout {where} no longer exists")
    watch = RolloutWatch(
        run_id=request.run_id,
        kind=data["kind"],
        owner=data["owner"],
        generation=int(data["generation"]),
        started=datetime.fromisoformat(data["started"]),
        deadline=deadline,
        requested_weight=int(data.get("weight") or 0),
    )
    return assess(body, watch, now)


async def cancel(api: KubernetesApi, ref: RunRef, request: DeployRequest) -> None:
    """Pause the Rollout if its template is still the one this run follows."""
    data = ref.data
    if data.get("dry_run"):
        return
    body = await api.read(ROLLOUT, data["namespace"], data["rollout"])
    if template_run(body) != data["owner"]:
        return
    pause = {"metadata": {"annotations": {PAUSED_BY: request.run_id}}, "spec": {"paused": True}}
    await api.patch(ROLLOUT, data["namespace"], data["rollout"], pause, dry_run=False)


def _resumed(body: dict[str, Any], patch: Patch | None = None) -> Patch | None:
    """`patch` (or a patch of its own) lifting a pause Tocsin's cancel put there; `patch` as it
    is when there is none."""
    spec, annotations = body.get("spec") or {}, (body.get("metadata") or {}).get("annotations")
    if not (spec.get("paused") and PAUSED_BY in (annotations or {})):
        return patch
    patch = patch or {"metadata": {"annotations": {}}, "spec": {}}
    patch["metadata"]["annotations"][PAUSED_BY] = None
    patch["spec"]["paused"] = False
    return patch


def _accepted(change: Change, image: str, where: str) -> str:
    """What a dry run sent, for its status."""
    if change.kind == PROMOTE:
        return f"the API server accepted a full promotion of the Rollout {where}"
    if change.kind == ABORT:
        return f"the API server accepted an abort of the Rollout {where}"
    if change.sets_template:
        return f"the API server accepted {image} for the Rollout {where}"
    return f"the Rollout {where} runs {image} already"
