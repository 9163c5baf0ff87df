"""Kubernetes: roll a Deployment to ``image:version`` with a strategic-merge patch of its pod
template, and follow the rollout the way ``kubectl rollout status`` does; canary stages go to a
second Deployment, the canary (`kubernetes_canary`).

- start (deploy and rollback alike): the container's image, the annotations
  ``tocsin.dev/run-id`` and ``kubernetes.io/change-cause``; ``dryRun=All`` for a dry run. A
  rollback re-patches the version Tocsin's ledger chose, so it works with
  ``revisionHistoryLimit: 0``. A template that already carries the run id is not patched again.
  `kubernetes_canary.plan` says which Deployments a run patches (the stable one, the canary, or
  both) and the canary's ``spec.replicas``, set in the same patch; all are read, and their
  container checked, before any is patched.
- status: `kubernetes_rollout.assess` on the Deployment the run follows (the canary for a canary
  stage, else the stable one) as it is now.
- cancel: Kubernetes cannot cancel a rollout; Tocsin pauses it (``spec.paused``) and the status
  says so; the engine decides about rolling back. The next start of a run resumes it.

The official client is synchronous: each call runs on a worker thread. Its `ApiClient` is
configured from the settings alone (no kubeconfig, no proxy or token from the environment).
Errors: 401/403/404/400/415/422 and TLS failures → `PermanentDelivery`; 409, 429 (with
``Retry-After``), 5xx, timeouts and connection failures → `RetryableDelivery`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import urllib3
from kubernetes.client import ApiClient, AppsV1Api, Configuration, V1Deployment
from kubernetes.client.exceptions import ApiException

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
from bot.deploy_port import BackendCapabilities, DeployRequest, Phase, RunRef, RunStatus
from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery

T = TypeVar("T")
SMP = "application/strategic-merge-patch+json"


def configuration(settings: KubernetesSettings) -> Configuration:
    config = Configuration(
        host=settings.api_url,
        ssl_ca_cert=settings.ca_file,
        verify_ssl=settings.verify_tls,
        proxy="",  # never a proxy from the environment
        no_proxy="",
        retries=0,  # the engine retries, with its own backoff
    )
    if settings.token is not None:
        config.api_key = {"BearerToken": settings.token.get_secret_value()}
        config.api_key_prefix = {"BearerToken": "Bearer"}
    return config


class KubernetesBackend:
    kind = "kubernetes"
    capabilities = BackendCapabilities(
        dry_run=True, cancel=True, native_rollback=False, canary=True
    )

    def __init__(self, name: str, settings: KubernetesSettings, *, clock: Clock) -> None:
        self.name = name
        self.settings = settings
        self._clock = clock
        self._client = ApiClient(configuration(settings))
        self._apps = AppsV1Api(self._client)

    async def start(self, request: DeployRequest) -> RunRef:
        target = _target(request.target)
        if not IMAGE_TAG.match(request.version):
            raise PermanentDelivery(f"version {request.version!r} is not a valid image tag")
        image = f"{target.image}:{request.version}"
        stable = await self._read(target.namespace, target.deployment)
        changes = plan(request, target, desired_replicas(stable))
        found = await self._checked(target, changes, stable)
        patched = [
            await self._apply(request, target, image, change, deployment)
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

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        data = ref.data
        where = f"{data['namespace']}/{data['deployment']}"
        if data.get("dry_run"):
            return _dry_run_status(data)
        try:
            deployment = await self._read(data["namespace"], data["deployment"])
        except Gone:
            return RunStatus(Phase.FAILED, f"the Deployment {where} no longer exists")
        watch = Watch(
            run_id=request.run_id,
            generation=int(data["generation"]),
            started=datetime.fromisoformat(data["started"]),
            deadline=self.settings.progress_deadline,
        )
        return assess(deployment, watch, self._clock.now())

    async def cancel(self, ref: RunRef, request: DeployRequest) -> None:
        """Pause the rollout if the template is still this run's (else there is nothing of
        this run's to stop)."""
        if ref.data.get("dry_run"):
            return
        namespace, name = ref.data["namespace"], ref.data["deployment"]
        deployment = await self._read(namespace, name)
        if template_annotations(deployment).get(RUN_ID) != request.run_id:
            return
        body = {"metadata": {"annotations": {PAUSED_BY: request.run_id}}, "spec": {"paused": True}}
        await self._patch(namespace, name, body, dry_run=False)

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        return None  # only the registry could tell

    async def current_version(self, target: Mapping[str, Any]) -> str | None:
        """The tag of the container's image now (None when it has none or is pinned by digest)."""
        where = _target(target)
        deployment = await self._read(where.namespace, where.deployment)
        image = container_image(deployment, where.container) or ""
        name = image.rsplit("/", 1)[-1]
        return name.rsplit(":", 1)[1] if ":" in name and "@" not in image else None

    async def revisions(self, target: Mapping[str, Any]) -> list[tuple[int, str | None]]:
        """The Deployment's ReplicaSets as (revision, image of the container), newest first."""
        where = _target(target)
        deployment = await self._read(where.namespace, where.deployment)
        labels = deployment.spec.selector.match_labels or {}
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        sets = await self._call(
            "list ReplicaSets",
            self._apps.list_namespaced_replica_set,
            where.namespace,
            label_selector=selector,
        )
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
        await asyncio.to_thread(self._client.close)

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
                else await self._read(target.namespace, change.deployment)
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
    ) -> V1Deployment:
        """`change` patched into `deployment`, unless this run did it already (its template
        carries the run id): a start repeated after a lost answer patches nothing twice."""
        if not request.dry_run and template_annotations(deployment).get(RUN_ID) == request.run_id:
            return deployment
        body = rollout_patch(request, change, target.container, image, deployment)
        return await self._patch(target.namespace, change.deployment, body, request.dry_run)

    async def _read(self, namespace: str, name: str) -> V1Deployment:
        return await self._call(
            f"read Deployment {namespace}/{name}",
            self._apps.read_namespaced_deployment,
            name,
            namespace,
        )

    async def _patch(
        self, namespace: str, name: str, body: dict[str, Any], dry_run: bool
    ) -> V1Deployment:
        return await self._call(
            f"patch Deployment {namespace}/{name}",
            self._apps.patch_namespaced_deployment,
            name,
            namespace,
            body,
            dry_run="All" if dry_run else None,
            _content_type=SMP,
        )

    async def _call(self, what: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        timeout = self.settings.timeout.total_seconds()
        try:
            return await asyncio.to_thread(call, *args, _request_timeout=timeout, **kwargs)
        except ApiException as exc:
            raise api_error(what, exc) from exc
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, urllib3.exceptions.SSLError):
                raise PermanentDelivery(f"{what}: TLS failed: {reason}") from exc
            raise RetryableDelivery(
                f"{what}: the Kubernetes API did not answer ({type(reason).__name__})"
            ) from exc
        except OSError as exc:  # e.g. an unreadable ca_file
            raise PermanentDelivery(f"{what}: {type(exc).__name__}: {exc.strerror}") from exc


def api_error(what: str, exc: ApiException) -> DeliveryError:
    """The `DeliveryError` for an API answer: the status, and the API's own message."""
    status = int(exc.status or 0)
    detail = _message(exc.body) or str(exc.reason or "")
    if status == 0:
        return PermanentDelivery(f"{what}: TLS or request error: {detail.splitlines()[-1]}")
    text = f"{what}: HTTP {status}: {detail}" if detail else f"{what}: HTTP {status}"
    if status == 429:
        return RetryableDelivery(text, retry_after=_retry_after(exc.headers))
    if status == 409 or status >= 500:
        return RetryableDelivery(text)
    return Gone(text) if status == 404 else PermanentDelivery(text)


class Gone(PermanentDelivery):
    """The API answered 404: the Deployment (or its namespace) does not exist."""


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


def _message(body: Any) -> str:
    try:
        parsed = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        return ""
    return str(parsed.get("message", "")) if isinstance(parsed, dict) else ""


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


validate, validate_target, create = entry_points(
    KubernetesSettings, KubernetesTarget, KubernetesBackend, section=True
)
