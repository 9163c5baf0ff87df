"""Kubernetes: roll a Deployment to ``image:version`` with a strategic-merge patch of its pod
template, and follow the rollout the way ``kubectl rollout status`` does.

- start (deploy and rollback alike): the container's image, the annotations
  ``tocsin.dev/run-id`` and ``kubernetes.io/change-cause``; ``dryRun=All`` for a dry run. A
  rollback re-patches the version Tocsin's ledger chose, so it works with
  ``revisionHistoryLimit: 0``. A template that already carries the run id is not patched again.
- status: `kubernetes_rollout.assess` on the Deployment as it is now.
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

from adapters.deploy.kubernetes_rollout import (
    CHANGE_CAUSE,
    PAUSED_BY,
    RUN_ID,
    Watch,
    assess,
    container_image,
    generation,
    object_annotations,
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
    capabilities = BackendCapabilities(dry_run=True, cancel=True, native_rollback=False)

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
        deployment = await self._read(target)
        if container_image(deployment, target.container) is None:
            raise PermanentDelivery(
                f"Deployment {target.namespace}/{target.deployment} has no container "
                f"{target.container!r}"
            )
        started = not request.dry_run and (
            template_annotations(deployment).get(RUN_ID) == request.run_id
        )
        if not started:
            deployment = await self._patch(
                target, _rollout_patch(request, target, image, deployment), request.dry_run
            )
        observed = generation(deployment)
        data = {
            "namespace": target.namespace,
            "deployment": target.deployment,
            "container": target.container,
            "image": image,
            "generation": observed,
            "started": self._clock.now().isoformat(),
            "dry_run": request.dry_run,
        }
        return RunRef(id=f"{target.namespace}/{target.deployment}@{observed}", data=data)

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        data = ref.data
        where = f"{data['namespace']}/{data['deployment']}"
        if data.get("dry_run"):
            return RunStatus(
                Phase.SUCCEEDED,
                f"dry run: the API server accepted {data['image']} for {where}; nothing changed",
                1.0,
            )
        try:
            deployment = await self._read(_where(data))
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
        target = _where(ref.data)
        deployment = await self._read(target)
        if template_annotations(deployment).get(RUN_ID) != request.run_id:
            return
        body = {"metadata": {"annotations": {PAUSED_BY: request.run_id}}, "spec": {"paused": True}}
        await self._patch(target, body, dry_run=False)

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        return None  # only the registry could tell

    async def current_version(self, target: Mapping[str, Any]) -> str | None:
        """The tag of the container's image now (None when it has none or is pinned by digest)."""
        where = _target(target)
        image = container_image(await self._read(where), where.container) or ""
        name = image.rsplit("/", 1)[-1]
        return name.rsplit(":", 1)[1] if ":" in name and "@" not in image else None

    async def revisions(self, target: Mapping[str, Any]) -> list[tuple[int, str | None]]:
        """The Deployment's ReplicaSets as (revision, image of the container), newest first."""
        where = _target(target)
        deployment = await self._read(where)
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

    async def _read(self, target: KubernetesTarget) -> V1Deployment:
        return await self._call(
            f"read Deployment {target.namespace}/{target.deployment}",
            self._apps.read_namespaced_deployment,
            target.deployment,
            target.namespace,
        )

    async def _patch(
        self, target: KubernetesTarget, body: dict[str, Any], dry_run: bool
    ) -> V1Deployment:
        return await self._call(
            f"patch Deployment {target.namespace}/{target.deployment}",
            self._apps.patch_namespaced_deployment,
            target.deployment,
            target.namespace,
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


def _rollout_patch(
    request: DeployRequest, target: KubernetesTarget, image: str, deployment: V1Deployment
) -> dict[str, Any]:
    cause = f"Tocsin {request.run_id}: {request.action} {request.service} {request.version}"
    if request.requested_by:
        cause += f" requested by {request.requested_by}"
    body: dict[str, Any] = {
        "metadata": {"annotations": {CHANGE_CAUSE: cause}},
        "spec": {
            "template": {
                "metadata": {"annotations": {RUN_ID: request.run_id, CHANGE_CAUSE: cause}},
                "spec": {"containers": [{"name": target.container, "image": image}]},
            }
        },
    }
    if deployment.spec.paused and PAUSED_BY in object_annotations(deployment):
        body["metadata"]["annotations"][PAUSED_BY] = None  # Tocsin's own pause: resume
        body["spec"]["paused"] = False
    return body


def _target(raw: Mapping[str, Any]) -> KubernetesTarget:
    return parse_target(KubernetesTarget, raw, "invalid Kubernetes target", section=True)


def _where(data: Mapping[str, Any]) -> KubernetesTarget:
    return KubernetesTarget.model_construct(
        namespace=data["namespace"],
        deployment=data["deployment"],
        container=data.get("container", ""),
        image="",
    )


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
