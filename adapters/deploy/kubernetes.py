"""Kubernetes: roll a workload to ``image:version`` and follow it until it is done. The target's
``workload`` says which: a Deployment (the default), an Argo Rollouts Rollout (`kubernetes_argo`)
or a Deployment that a Flagger Canary drives (`kubernetes_flagger`).

A Deployment gets a strategic-merge patch of its pod template and is followed the way ``kubectl
rollout status`` does; canary stages go to a second Deployment, the canary (`kubernetes_canary`).

- start (deploy and rollback alike): the container's image, the annotations
  ``tocsin.dev/run-id`` and ``kubernetes.io/change-cause``; ``dryRun=All`` for a dry run. A
  rollback re-patches the version Tocsin's ledger chose, so it works with
  ``revisionHistoryLimit: 0``. A template that already carries the run id is not patched again.
  `kubernetes_canary.plan` says which Deployments a run patches (the stable one, the canary, or
  both) and the canary's ``spec.replicas``, set in the same patch; all are read, and their
  container checked, before any is patched. With Flagger, the Canary's hash of the template it
  last took on rides along as an annotation, and a canary stage is refused.
- status: `kubernetes_rollout.assess` on the Deployment the run follows (the canary for a canary
  stage, else the stable one) as it is now; with Flagger, the Flagger Canary's phase.
- cancel: Kubernetes cannot cancel a rollout; Tocsin pauses it (``spec.paused``) and the status
  says so; the engine decides about rolling back. The next start of a run resumes it.

`current_version` reads the workload's container image; `revisions` lists a Deployment's
ReplicaSets (a Rollout's are Argo Rollouts' own). The API and its errors are `kubernetes_api`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kubernetes.client import V1Deployment

from adapters.deploy import kubernetes_argo, kubernetes_flagger
from adapters.deploy.kubernetes_api import ROLLOUT, Gone, KubernetesApi
from adapters.deploy.kubernetes_argo_status import template_image
from adapters.deploy.kubernetes_canary import Change, plan, rollout_patch
from adapters.deploy.kubernetes_rollout import (
    PAUSED_BY,
    RUN_ID,
    Watch,
    assess,
    container_image,
    desired_replicas,
    generation,
    template_annotations,
)
from adapters.deploy.kubernetes_settings import IMAGE_TAG, KubernetesSettings, KubernetesTarget
from adapters.deploy.settings_common import entry_points, parse_target
from bot.clock import Clock
from bot.errors import PermanentDelivery
from bot.ports import BackendCapabilities, DeployRequest, Phase, RunRef, RunStatus


class KubernetesBackend:
    kind = "kubernetes"
    capabilities = BackendCapabilities(
        dry_run=True, cancel=True, native_rollback=False, canary=True
    )

    def __init__(self, name: str, settings: KubernetesSettings, *, clock: Clock) -> None:
        self.name = name
        self.settings = settings
        self._clock = clock
        self._api = KubernetesApi(settings)

    async def start(self, request: DeployRequest) -> RunRef:
        target = _target(request.target)
        if not IMAGE_TAG.match(request.version):
            raise PermanentDelivery(f"version {request.version!r} is not a valid image tag")
        image = f"{target.image}:{request.version}"
        if target.workload == "rollout":
            now = self._clock.now()
            return await kubernetes_argo.start(self._api, request, target, image, now)
        if target.workload == "flagger":
            return await self._start_flagger(request, target, image)
        stable = await self._api.read_deployment(target.namespace, target.deployment)
        return await self._start_deployments(request, target, image, stable)

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        data = ref.data
        now = self._clock.now()
        if data.get("workload") == "rollout":
            deadline = self.settings.progress_deadline
            return await kubernetes_argo.status(self._api, ref, request, now, deadline)
        where = f"{data['namespace']}/{data['deployment']}"
        if data.get("dry_run"):
            return _dry_run_status(data)
        try:
            deployment = await self._api.read_deployment(data["namespace"], data["deployment"])
        except Gone:
            return RunStatus(Phase.FAILED, f"the Deployment {where} no longer exists")
        watch = Watch(
            run_id=request.run_id,
            generation=int(data["generation"]),
            started=datetime.fromisoformat(data["started"]),
            deadline=self.settings.progress_deadline,
        )
        if data.get("workload") == "flagger":
            return await kubernetes_flagger.status(self._api, deployment, data, watch, now)
        return assess(deployment, watch, now)

    async def cancel(self, ref: RunRef, request: DeployRequest) -> None:
        """Pause the rollout if the template is still this run's (else there is nothing of
        this run's to stop)."""
        if ref.data.get("workload") == "rollout":
            return await kubernetes_argo.cancel(self._api, ref, request)
        if ref.data.get("dry_run"):
            return
        namespace, name = ref.data["namespace"], ref.data["deployment"]
        deployment = await self._api.read_deployment(namespace, name)
        if template_annotations(deployment).get(RUN_ID) != request.run_id:
            return
        body = {"metadata": {"annotations": {PAUSED_BY: request.run_id}}, "spec": {"paused": True}}
        await self._api.patch_deployment(namespace, name, body, dry_run=False)

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        return None  # only the registry could tell

    async def current_version(self, target: Mapping[str, Any]) -> str | None:
        """The tag of the container's image now (None when it has none or is pinned by digest)."""
        where = _target(target)
        if where.workload == "rollout":
            body = await self._api.read(ROLLOUT, where.namespace, where.deployment)
            image = template_image(body, where.container) or ""
        else:
            deployment = await self._api.read_deployment(where.namespace, where.deployment)
            image = container_image(deployment, where.container) or ""
        name = image.rsplit("/", 1)[-1]
        return name.rsplit(":", 1)[1] if ":" in name and "@" not in image else None

    async def revisions(self, target: Mapping[str, Any]) -> list[tuple[int, str | None]]:
        """The Deployment's ReplicaSets as (revision, image of the container), newest first."""
        where = _target(target)
        if where.workload == "rollout":
            raise PermanentDelivery("a Rollout's revisions are Argo Rollouts' own, not read here")
        deployment = await self._api.read_deployment(where.namespace, where.deployment)
        labels = deployment.spec.selector.match_labels or {}
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        sets = await self._api.list_replica_sets(where.namespace, selector)
        uid = deployment.metadata.uid if deployment.metadata else None
        found: list[tuple[int, str | None]] = []
        for item in sets.items:
            meta, pod = item.metadata, item.spec.template.spec if item.spec.template else None
            if meta is None or not any(o.uid == uid for o in meta.owner_references or []):
                continue
            revision = (meta.annotations or {}).get("deployment.kubernetes.io/revision", "0")
            containers = pod.containers if pod is not None else []
            image = next((c.image for c in containers if c.name == where.container), None)
            found.append((int(revision), image))
        return sorted(found, reverse=True)

    async def aclose(self) -> None:
        await self._api.aclose()

    async def _start_flagger(
        self, request: DeployRequest, target: KubernetesTarget, image: str
    ) -> RunRef:
        """A Deployment's start, with what the Flagger Canary showed before it."""
        kubernetes_flagger.refuse_canary_stage(request, target)
        stable = await self._api.read_deployment(target.namespace, target.deployment)
        last = await kubernetes_flagger.last_applied(self._api, request, target, stable)
        marks = {kubernetes_flagger.LAST_APPLIED: last}
        ref = await self._start_deployments(request, target, image, stable, marks)
        extra = {
            "workload": "flagger",
            "flagger_canary": target.canary_object,
            "last_applied": last,
        }
        return RunRef(id=ref.id, url=ref.url, data={**ref.data, **extra})

    async def _start_deployments(
        self,
        request: DeployRequest,
        target: KubernetesTarget,
        image: str,
        stable: V1Deployment,
        marks: Mapping[str, str] | None = None,
    ) -> RunRef:
        """Patch the Deployments of the run's plan; `marks` are annotations for the stable one."""
        changes = plan(request, target, desired_replicas(stable))
        found = await self._checked(target, changes, stable)
        patched = [
            await self._apply(request, target, image, change, deployment, marks)
            for change, deployment in zip(changes, found, strict=True)
        ]
        followed, observed = changes[0], generation(patched[0])
        data: dict[str, Any] = {
            "namespace": target.namespace,
            "deployment": followed.deployment,
            "container": target.container,
            "image": image,
            "generation": observed,
            "started": self._clock.now().isoformat(),
            "dry_run": request.dry_run,
        }
        if followed.replicas is not None:
            data["replicas"] = followed.replicas
        if len(changes) > 1:  # a run of the whole service also scales its canary to 0
            data["canary"] = changes[1].deployment
        return RunRef(id=f"{target.namespace}/{followed.deployment}@{observed}", data=data)

    async def _checked(
        self, target: KubernetesTarget, changes: list[Change], stable: V1Deployment
    ) -> list[V1Deployment]:
        """The Deployments of `changes`, read and checked for the container before any is
        patched, so a misconfigured canary stops the run before the stable one rolls."""
        found = []
        for change in changes:
            deployment = (
                stable
                if change.deployment == target.deployment
                else await self._api.read_deployment(target.namespace, change.deployment)
            )
            if container_image(deployment, target.container) is None:
                raise PermanentDelivery(
                    f"Deployment {target.namespace}/{change.deployment} has no container "
                    f"{target.container!r}"
                )
            found.append(deployment)
        return found

    async def _apply(
        self,
        request: DeployRequest,
        target: KubernetesTarget,
        image: str,
        change: Change,
        deployment: V1Deployment,
        marks: Mapping[str, str] | None,
    ) -> V1Deployment:
        """`change` patched into `deployment`, unless this run did it already (its template
        carries the run id): a start repeated after a lost answer patches nothing twice."""
        if not request.dry_run and template_annotations(deployment).get(RUN_ID) == request.run_id:
            return deployment
        body = rollout_patch(request, change, target.container, image, deployment)
        if marks and change.deployment == target.deployment:
            body["metadata"]["annotations"].update(marks)
        return await self._api.patch_deployment(
            target.namespace, change.deployment, body, dry_run=request.dry_run
        )


def _dry_run_status(data: Mapping[str, Any]) -> RunStatus:
    """What the API server accepted without changing anything, said from the run's data."""
    what = f"{data['image']} for {data['namespace']}/{data['deployment']}"
    if "replicas" in data:
        what += f" at {data['replicas']} replica(s)"
    if data.get("canary"):
        what += f", and 0 replicas for {data['namespace']}/{data['canary']}"
    return RunStatus(
        Phase.SUCCEEDED, f"dry run: the API server accepted {what}; nothing changed", 1.0
    )


def _target(raw: Mapping[str, Any]) -> KubernetesTarget:
    return parse_target(KubernetesTarget, raw, "invalid Kubernetes target", section=True)


validate, validate_target, create = entry_points(
    KubernetesSettings, KubernetesTarget, KubernetesBackend, section=True
)
