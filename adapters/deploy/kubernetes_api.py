"""The Kubernetes API as the backend uses it: Deployments and their ReplicaSets through
`AppsV1Api`, Argo Rollouts' Rollouts and Flagger's Canaries through `CustomObjectsApi`.

The official client is synchronous: each call runs on a worker thread. Its `ApiClient` is
configured from the settings alone (no kubeconfig, no proxy or token from the environment).
Deployments take strategic-merge patches; custom resources only know JSON merge patches, which
replace lists whole, so their callers send whole lists. Errors: 401/403/404/400/415/422 and TLS
failures → `PermanentDelivery` (404 as its subclass `Gone`); 409, 429 (with ``Retry-After``),
5xx, timeouts and connection failures → `RetryableDelivery`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import urllib3
from kubernetes.client import (
    ApiClient,
    AppsV1Api,
    Configuration,
    CustomObjectsApi,
    V1Deployment,
    V1ReplicaSetList,
)
from kubernetes.client.exceptions import ApiException

from adapters.deploy.kubernetes_settings import KubernetesSettings
from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery

T = TypeVar("T")
SMP = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True, slots=True)
class CustomKind:
    """A custom resource the backend reads or patches."""

    kind: str
    group: str
    version: str
    plural: str


ROLLOUT = CustomKind("Rollout", "argoproj.io", "v1alpha1", "rollouts")
CANARY = CustomKind("Canary", "flagger.app", "v1beta1", "canaries")


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


class KubernetesApi:
    def __init__(self, settings: KubernetesSettings) -> None:
        self._timeout = settings.timeout.total_seconds()
        self._client = ApiClient(configuration(settings))
        self._apps = AppsV1Api(self._client)
        self._custom = CustomObjectsApi(self._client)

    async def read_deployment(self, namespace: str, name: str) -> V1Deployment:
        return await self._call(
            f"read Deployment {namespace}/{name}",
            self._apps.read_namespaced_deployment,
            name,
            namespace,
        )

    async def patch_deployment(
        self, namespace: str, name: str, body: dict[str, Any], *, dry_run: bool
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

    async def list_replica_sets(self, namespace: str, selector: str) -> V1ReplicaSetList:
        return await self._call(
            "list ReplicaSets",
            self._apps.list_namespaced_replica_set,
            namespace,
            label_selector=selector,
        )

    async def read(self, kind: CustomKind, namespace: str, name: str) -> dict[str, Any]:
        what = f"read {kind.kind} {namespace}/{name}"
        found = await self._call(
            what,
            self._custom.get_namespaced_custom_object,
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            name,
        )
        return _object(what, found)

    async def patch(
        self,
        kind: CustomKind,
        namespace: str,
        name: str,
        body: dict[str, Any],
        *,
        dry_run: bool,
        status: bool = False,
    ) -> dict[str, Any]:
        """A JSON merge patch of the object, or of its status subresource (where a controller's
        own fields such as ``abort`` live)."""
        call = self._custom.patch_namespaced_custom_object
        if status:
            call = self._custom.patch_namespaced_custom_object_status
        what = f"patch {kind.kind}{' status' if status else ''} {namespace}/{name}"
        patched = await self._call(
            what,
            call,
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            name,
            body,
            dry_run="All" if dry_run else None,
            _content_type=MERGE_PATCH,
        )
        return _object(what, patched)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.close)

    async def _call(self, what: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(call, *args, _request_timeout=self._timeout, **kwargs)
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
    """The API answered 404: the object (or its namespace, or its kind) does not exist."""


def _object(what: str, found: object) -> dict[str, Any]:
    """The JSON object the API answered (anything else is not the Kubernetes API)."""
    if not isinstance(found, dict):
        raise PermanentDelivery(f"{what}: the answer is not a JSON object")
    return found


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
