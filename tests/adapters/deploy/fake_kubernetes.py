"""A local fake of the Kubernetes API server's apps/v1 Deployments and ReplicaSets, Argo Rollouts'
Rollouts and Flagger's Canaries on 127.0.0.1.

It serves ``GET``/``PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}`` and ``GET
/apis/apps/v1/namespaces/{ns}/replicasets?labelSelector=…``, and checks what the API server
checks: the bearer token (401), RBAC for a verb (403, when a test forbids it), the patch content
type (415 unless ``application/strategic-merge-patch+json``), ``dryRun`` (only ``All``), and that
every container still has an image (422). A strategic-merge patch merges ``containers`` by name
and deletes keys set to null; a spec change bumps ``metadata.generation``, and a pod template
change makes a new ReplicaSet with the next ``deployment.kubernetes.io/revision``. Errors are
``Status`` objects as the API server sends them.

The Deployment controller is the test: `advance` makes one step of a rolling update (observe the
generation, surge a new pod, make it available and retire an old one…) or of a scale to
``spec.replicas`` (0 included), `complete` runs it to the end, `exceed_deadline` sets
``Progressing=False/ProgressDeadlineExceeded``. Several Deployments may share labels, as a
canary Deployment shares the stable one's ``app`` label.

Rollouts (``/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts/{name}``) answer ``GET`` and
``PATCH``, and ``PATCH …/status`` for the status subresource; Canaries
(``/apis/flagger.app/v1beta1/namespaces/{ns}/canaries/{name}``) answer ``GET``. Custom resources
take only ``application/merge-patch+json`` (415 otherwise): maps merge, null deletes, lists are
replaced whole. A patch of the object leaves its status alone and a patch of the status only
changes the status, as with a status subresource; a ``metadata.resourceVersion`` in a patch that
is not the current one is a 409 Conflict. The controllers are the test again: `sync_rollout`
is one pass of a simplified Argo Rollouts controller, `flagger_step` sets what Flagger reports.
"""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from fake_kubernetes_objects import (
    NOW,
    promoted,
    template_hash,
)

from tests.fake_http import FakeHttpServer

TOKEN = "k8s-sa-token-0123456789abcdef"
SMP = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"
ARGO = "/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts/{name}"
FLAGGER = "/apis/flagger.app/v1beta1/namespaces/{ns}/canaries/{name}"
MERGE_BY_NAME = frozenset({"containers", "initContainers", "env", "volumes", "volumeMounts"})


@dataclass
class Pods:
    """The simulated pods of one Deployment."""

    old: int = 0
    new_pending: int = 0
    new_ready: int = 0


@dataclass
class FakeKubernetes(FakeHttpServer):
    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    replicasets: list[dict[str, Any]] = field(default_factory=list)
    pods: dict[tuple[str, str], Pods] = field(default_factory=dict)
    rollouts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    canaries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    token: str = TOKEN
    forbidden: set[str] = field(default_factory=set)
    """Verbs (``get``, ``patch``, ``list``) the service account may not use."""
    failures: list[tuple[int, float | None]] = field(default_factory=list)
    patches: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    """Accepted patch bodies, with their ``dryRun``."""
    calls: list[str] = field(default_factory=list)
    _versions: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def routes(self, app: web.Application) -> None:
        path = "/apis/apps/v1/namespaces/{ns}/deployments/{name}"
        app.router.add_get(path, self._get)
        app.router.add_patch(path, self._patch)
        app.router.add_get("/apis/apps/v1/namespaces/{ns}/replicasets", self._list_sets)
        app.router.add_get(ARGO, self._get_rollout)
        app.router.add_patch(ARGO, self._patch_rollout)
        app.router.add_patch(ARGO + "/status", self._patch_rollout)
        app.router.add_get(FLAGGER, self._get_canary)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, body: dict[str, Any]) -> dict[str, Any]:
        """Serve `body` (from `deployment`) as a rolled-out Deployment with its ReplicaSet."""
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        self.deployments[key] = body
        self.pods[key] = Pods(new_ready=body["spec"]["replicas"])
        self._new_replicaset(body, 1)
        self._update_status(key)
        return body

    def fail(self, status: int, *, retry_after: float | None = None, times: int = 1) -> None:
        """The next calls answer `status` (a ``Status`` object) instead."""
        self.failures += [(status, retry_after)] * times

    def image(self, namespace: str, name: str, container: str = "app") -> str:
        spec = self.deployments[(namespace, name)]["spec"]["template"]["spec"]
        return str(next(c["image"] for c in spec["containers"] if c["name"] == container))

    # --- the Deployment controller, driven by the test ---

    def advance(self, namespace: str, name: str) -> bool:
        """One step of the rolling update; True once it is complete."""
        key = (namespace, name)
        body, pods = self.deployments[key], self.pods[key]
        desired = body["spec"]["replicas"]
        status = body["status"]
        if status.get("observedGeneration", 0) < body["metadata"]["generation"]:
            status["observedGeneration"] = body["metadata"]["generation"]
        elif body["spec"].get("paused"):
            pass
        elif pods.new_pending:
            pods.new_pending -= 1
            pods.new_ready += 1
            pods.old = max(0, pods.old - 1)
        elif pods.new_ready < desired:
            pods.new_pending += 1
        elif pods.new_ready > desired:  # scaled down
            pods.new_ready -= 1
        elif pods.old:
            pods.old -= 1
        self._update_status(key)
        return self._complete(key)

    def complete(self, namespace: str, name: str) -> None:
        for _ in range(100):
            if self.advance(namespace, name):
                return
        raise AssertionError("the simulated rollout did not complete")

    def exceed_deadline(self, namespace: str, name: str) -> None:
        status = self.deployments[(namespace, name)]["status"]
        status["observedGeneration"] = self.deployments[(namespace, name)]["metadata"]["generation"]
        rs = self._newest_set(namespace, name)["metadata"]["name"]
        self._set_progressing(
            status,
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{rs}" has timed out progressing.',
        )

    # --- the Argo Rollouts controller and Flagger, driven by the test ---

    def sync_rollout(self, namespace: str, name: str) -> None:
        """One pass of the Argo Rollouts controller, to where it would settle: a new pod template
        starts the steps over (clearing abort, promoteFull and pauses); the steps run up to the
        next pause; promoteFull or the end of the steps makes the template stable; an abort
        sends the traffic back to the stable ReplicaSet."""
        body = self.rollouts[(namespace, name)]
        spec, status = body["spec"], body["status"]
        steps, pod_hash = spec["strategy"]["canary"]["steps"], template_hash(spec["template"])
        status["observedGeneration"] = str(body["metadata"]["generation"])
        if status["currentPodHash"] != pod_hash:
            for key in ("abort", "promoteFull", "pauseConditions", "conditions"):
                status.pop(key, None)
            stable = pod_hash == status["stableRS"]
            status.update(currentPodHash=pod_hash, currentStepIndex=len(steps) if stable else 0)
        index = status["currentStepIndex"]
        if status.get("abort"):
            message = f"Rollout aborted update to revision {body['metadata']['generation']}"
            status.update(phase="Degraded", message=f"RolloutAborted: {message}")
            status.update(currentStepIndex=0, updatedReplicas=0)
            status["conditions"] = [{"type": "Progressing", "reason": "RolloutAborted"}]
            return
        if spec.get("paused") and not status.get("promoteFull"):
            status.update(phase="Paused", message="manually paused")
            return
        while index < len(steps) and "setWeight" in steps[index]:
            index += 1
        if status.pop("promoteFull", False) or index >= len(steps):
            status.update(
                phase="Healthy", message="", stableRS=pod_hash, currentStepIndex=len(steps)
            )
            status.pop("pauseConditions", None)
            status["updatedReplicas"] = spec["replicas"]
            return
        reason = {"reason": "CanaryPauseStep", "startTime": NOW}
        status.update(phase="Paused", message="CanaryPauseStep", currentStepIndex=index)
        status.update(pauseConditions=[reason], updatedReplicas=1)

    def flagger_step(
        self, namespace: str, name: str, phase: str, *, weight: int = 0, message: str = ""
    ) -> None:
        """What Flagger reports after a pass: it has taken on its target's pod template (its
        hash in ``status.lastAppliedSpec``) and is at `phase`, `weight`, saying `message`."""
        canary = self.canaries[(namespace, name)]
        target = self.deployments[(namespace, canary["spec"]["targetRef"]["name"])]
        status = canary["status"]
        status.update(phase=phase, canaryWeight=weight, lastTransitionTime=NOW)
        status["lastAppliedSpec"] = template_hash(target["spec"]["template"])
        if message:
            status["conditions"] = [promoted("False", phase, message)]

    # --- handlers ---

    async def _get(self, request: web.Request) -> web.Response:
        problem = await self._check(request, "get", "deployments")
        if problem is not None:
            return problem
        key = (request.match_info["ns"], request.match_info["name"])
        if key not in self.deployments:
            return _not_found(key[1])
        return web.json_response(self.deployments[key])

    async def _patch(self, request: web.Request) -> web.Response:
        problem = await self._check(request, "patch", "deployments")
        if problem is not None:
            return problem
        ns, name = request.match_info["ns"], request.match_info["name"]
        if request.content_type != SMP:
            return _status(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                + SMP,
            )
        dry_run = request.query.get("dryRun")
        if dry_run not in (None, "All"):
            return _status(400, "BadRequest", f"Invalid dry run value: {dry_run}")
        if (ns, name) not in self.deployments:
            return _not_found(name)
        try:
            patch = json.loads(await request.text())
        except ValueError:
            return _status(400, "BadRequest", "error decoding patch: invalid JSON")
        current = self.deployments[(ns, name)]
        merged = copy.deepcopy(current)
        _merge(merged, patch)
        invalid = _invalid(merged)
        if invalid:
            return _status(422, "Invalid", f'Deployment.apps "{name}" is invalid: {invalid}')
        if merged["spec"] != current["spec"]:
            merged["metadata"]["generation"] += 1
        merged["metadata"]["resourceVersion"] = str(next(self._versions))
        self.patches.append((patch, dry_run))
        if dry_run is None:
            self.deployments[(ns, name)] = merged
            if merged["spec"]["template"] != current["spec"]["template"]:
                self._roll(ns, name)
        return web.json_response(merged)

    async def _get_rollout(self, request: web.Request) -> web.Response:
        return await self._get_object(request, self.rollouts, "rollouts", "argoproj.io")

    async def _get_canary(self, request: web.Request) -> web.Response:
        return await self._get_object(request, self.canaries, "canaries", "flagger.app")

    async def _get_object(
        self, request: web.Request, store: dict[tuple[str, str], Any], resource: str, group: str
    ) -> web.Response:
        problem = await self._check(request, "get", resource, group)
        if problem is not None:
            return problem
        key = (request.match_info["ns"], request.match_info["name"])
        if key not in store:
            return _not_found(key[1], f"{resource}.{group}")
        return web.json_response(store[key])

    async def _patch_rollout(self, request: web.Request) -> web.Response:
        """A JSON merge patch of a Rollout, or of its status (the path ends in ``/status``)."""
        problem = await self._check(request, "patch", "rollouts", "argoproj.io")
        if problem is not None:
            return problem
        key = (request.match_info["ns"], request.match_info["name"])
        if request.content_type != MERGE_PATCH:
            return _status(415, "UnsupportedMediaType", f"accepted media types: {MERGE_PATCH}")
        dry_run = request.query.get("dryRun")
        if dry_run not in (None, "All"):
            return _status(400, "BadRequest", f"Invalid dry run value: {dry_run}")
        if key not in self.rollouts:
            return _not_found(key[1], "rollouts.argoproj.io")
        patch, current = json.loads(await request.text()), self.rollouts[key]
        version = patch.get("metadata", {}).get("resourceVersion")
        if version is not None and version != current["metadata"]["resourceVersion"]:
            return _status(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on rollouts.argoproj.io "{key[1]}": the object '
                "has been modified; please apply your changes to the latest version and try again",
            )
        merged = copy.deepcopy(current)
        if request.path.endswith("/status"):
            _merge_patch(merged["status"], patch.get("status", {}))
        else:
            _merge_patch(merged, {k: v for k, v in patch.items() if k != "status"})
        if merged["spec"] != current["spec"]:
            merged["metadata"]["generation"] += 1
        merged["metadata"]["resourceVersion"] = str(next(self._versions))
        self.patches.append((patch, dry_run))
        if dry_run is None:
            self.rollouts[key] = merged
        return web.json_response(merged)

    async def _list_sets(self, request: web.Request) -> web.Response:
        problem = await self._check(request, "list", "replicasets")
        if problem is not None:
            return problem
        wanted = dict(
            part.split("=", 1) for part in request.query.get("labelSelector", "").split(",") if part
        )
        items = [
            rs
            for rs in self.replicasets
            if rs["metadata"]["namespace"] == request.match_info["ns"]
            and wanted.items() <= rs["metadata"]["labels"].items()
        ]
        return web.json_response(
            {
                "kind": "ReplicaSetList",
                "apiVersion": "apps/v1",
                "metadata": {"resourceVersion": str(next(self._versions))},
                "items": items,
            }
        )

    async def _check(
        self, request: web.Request, verb: str, resource: str, group: str = "apps"
    ) -> web.Response | None:
        self.calls.append(f"{request.method} {request.path}")
        if f"{verb} {resource}" in self.held:  # e.g. "get deployments"
            await self.held[f"{verb} {resource}"].wait()
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized", "Unauthorized")
        if verb in self.forbidden:
            ns = request.match_info["ns"]
            return _status(
                403,
                "Forbidden",
                f'{resource}.{group} is forbidden: User "system:serviceaccount:tocsin:deployer" '
                f'cannot {verb} resource "{resource}" in API group "{group}" in the namespace '
                f'"{ns}"',
            )
        if self.failures:
            code, retry_after = self.failures.pop(0)
            headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
            return _status(
                code,
                "TooManyRequests" if code == 429 else "InternalError",
                "scripted failure",
                headers,
            )
        return None

    # --- the simulated controller ---

    def _roll(self, ns: str, name: str) -> None:
        body, pods = self.deployments[(ns, name)], self.pods[(ns, name)]
        pods.old += pods.new_ready + pods.new_pending
        pods.new_ready = pods.new_pending = 0
        revision = int(body["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) + 1
        body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(revision)
        self._new_replicaset(body, revision)
        self._update_status((ns, name))

    def _new_replicaset(self, body: dict[str, Any], revision: int) -> None:
        meta, spec = body["metadata"], body["spec"]
        pod_hash = template_hash(spec["template"])
        labels = {**spec["selector"]["matchLabels"], "pod-template-hash": pod_hash}
        template = copy.deepcopy(spec["template"])
        template["metadata"]["labels"] = {**template["metadata"].get("labels", {}), **labels}
        self.replicasets.append(
            {
                "metadata": {
                    "name": f"{meta['name']}-{pod_hash}",
                    "namespace": meta["namespace"],
                    "uid": str(uuid.uuid4()),
                    "labels": labels,
                    "annotations": {
                        "deployment.kubernetes.io/revision": str(revision),
                        "deployment.kubernetes.io/desired-replicas": str(spec["replicas"]),
                        **{
                            k: v
                            for k, v in meta.get("annotations", {}).items()
                            if k == "kubernetes.io/change-cause"
                        },
                    },
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": {
                    "replicas": spec["replicas"],
                    "selector": {"matchLabels": labels},
                    "template": template,
                },
                "status": {"replicas": 0, "observedGeneration": 1},
            }
        )

    def _newest_set(self, ns: str, name: str) -> dict[str, Any]:
        uid = self.deployments[(ns, name)]["metadata"]["uid"]
        own = [rs for rs in self.replicasets if rs["metadata"]["ownerReferences"][0]["uid"] == uid]
        return max(
            own,
            key=lambda rs: int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]),
        )

    def _update_status(self, key: tuple[str, str]) -> None:
        body, pods = self.deployments[key], self.pods[key]
        desired = body["spec"]["replicas"]
        status = body["status"]
        updated = pods.new_ready + pods.new_pending
        available = pods.old + pods.new_ready
        status.update(
            replicas=pods.old + updated,
            updatedReplicas=updated,
            readyReplicas=available,
            availableReplicas=available,
            unavailableReplicas=max(0, desired - available),
        )
        status.setdefault("observedGeneration", body["metadata"]["generation"])
        rs = self._newest_set(*key)["metadata"]["name"]
        if self._complete(key):
            self._set_progressing(
                status,
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs}" has successfully progressed.',
            )
        else:
            self._set_progressing(
                status, "True", "ReplicaSetUpdated", f'ReplicaSet "{rs}" is progressing.'
            )
        status["conditions"] = [
            {
                "type": "Available",
                "status": "True" if available >= desired - 1 else "False",
                "lastUpdateTime": NOW,
                "lastTransitionTime": NOW,
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            },
            *[c for c in status["conditions"] if c["type"] == "Progressing"],
        ]

    def _complete(self, key: tuple[str, str]) -> bool:
        body, pods = self.deployments[key], self.pods[key]
        return (
            body["status"].get("observedGeneration", 0) >= body["metadata"]["generation"]
            and pods.old == 0
            and pods.new_pending == 0
            and pods.new_ready == body["spec"]["replicas"]
        )

    @staticmethod
    def _set_progressing(status: dict[str, Any], value: str, reason: str, message: str) -> None:
        others = [c for c in status.get("conditions", []) if c["type"] != "Progressing"]
        status["conditions"] = [
            *others,
            {
                "type": "Progressing",
                "status": value,
                "lastUpdateTime": NOW,
                "lastTransitionTime": NOW,
                "reason": reason,
                "message": message,
            },
        ]


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """A strategic-merge patch: maps merge, null deletes, named lists merge by ``name``."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif key in MERGE_BY_NAME and isinstance(value, list):
            items = target.setdefault(key, [])
            for item in value:
                found = next((i for i in items if i.get("name") == item.get("name")), None)
                if found is None:
                    items.append(copy.deepcopy(item))
                else:
                    _merge(found, item)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """A JSON merge patch (RFC 7386): maps merge, null deletes, anything else replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_patch(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _invalid(body: dict[str, Any]) -> str:
    for i, container in enumerate(body["spec"]["template"]["spec"].get("containers", [])):
        image = container.get("image", "")
        if not image or image != image.strip() or " " in image:
            return f"spec.template.spec.containers[{i}].image: Required value"
    return ""


def _not_found(name: str, resource: str = "deployments.apps") -> web.Response:
    return _status(404, "NotFound", f'{resource} "{name}" not found')


def _status(
    code: int, reason: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return web.json_response(body, status=code, headers=headers)
