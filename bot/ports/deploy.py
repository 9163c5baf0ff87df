"""The deploy backend port: what the deploy engine asks of Kubernetes, Helm, Argo CD, GitLab CI,
Jenkins, GitHub Actions, a shell script or an HTTP webhook.

A run is started once (`start`, idempotent on `DeployRequest.run_id`), then polled (`status`)
until it ends; the `RunRef` it returns is stored, so polling resumes after a restart. A rollback
is a run too (`action="rollback"`, `version` = the target). Errors: `RetryableDelivery` for
"try again" (timeouts, 5xx, 429), `PermanentDelivery` for "this will never work" (bad
credentials, unknown job, invalid parameters); `status` of a run that failed is a `RunStatus`
with phase ``failed``, not an exception.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol


class Phase(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def done(self) -> bool:
        return self is not Phase.RUNNING


@dataclass(frozen=True, slots=True)
class BackendCapabilities:
    dry_run: bool = False
    """The backend has its own dry run (else a dry run only shows what would be called)."""
    cancel: bool = True
    native_rollback: bool = False
    """Rollback uses the backend's own (helm rollback, Argo CD rollback) instead of a deploy of
    the target version."""
    artifact_check: bool = False
    """`artifact_exists` can tell whether a version's artifact is still there."""
    canary: bool = False
    """The backend can send a release to a canary first (`DeployRequest.stage` ``canary``):
    its weight rides in a parameter the pipeline or script reads, or the backend has a canary
    of its own (a second Kubernetes Deployment)."""


@dataclass(frozen=True, slots=True)
class DeployRequest:
    run_id: str
    """Tocsin's run id (``run-42``): the idempotency key, passed to backends that take one."""
    action: str
    """``deploy`` or ``rollback``."""
    service: str
    environment: str
    version: str
    """The version to run: the new one, or the rollback target."""
    previous: str
    """The version running before ("" when unknown)."""
    target: dict[str, Any]
    """The service's settings for this backend in this environment (namespace, job, chart…)."""
    params: dict[str, str] = field(default_factory=dict)
    """``key=value`` extras from the command."""
    dry_run: bool = False
    requested_by: str = ""
    approved_by: tuple[str, ...] = ()
    stage: str = ""
    """``canary``: a deploy puts `version` on the canary only, at `canary_weight` percent of
    the traffic, and leaves the stable release as it is; a rollback takes the canary away
    (weight 0; `version` is the stable release). ``""``: the whole service, a canary's
    promotion included."""
    canary_weight: int = 0
    """1–99 for a canary deploy, 0 otherwise (it is in `params` too, under the gate's
    ``weight_param``)."""


@dataclass(frozen=True, slots=True)
class RunRef:
    """Where the backend keeps the run: enough to poll or cancel it, as JSON-able data."""

    id: str
    """The backend's id for the run (pipeline id, build number, rollout revision, pid…)."""
    url: str = ""
    """The backend's own page for the run (its log), shown on the card."""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunStatus:
    phase: Phase
    message: str = ""
    """One line for the card: what the backend says now (``2/3 replicas updated``)."""
    progress: float | None = None
    """0.0–1.0 where the backend can tell."""
    url: str = ""
    log_tail: str = ""
    """The last lines of output, where the backend streams them."""


class DeployBackend(Protocol):
    name: str
    """The configured backend's name (``k8s-prod``)."""
    kind: str
    """``kubernetes``, ``helm``, ``argocd``, ``gitlab``, ``jenkins``, ``github``, ``shell``,
    ``webhook``."""
    capabilities: BackendCapabilities

    async def start(self, request: DeployRequest) -> RunRef: ...

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus: ...

    async def cancel(self, ref: RunRef, request: DeployRequest) -> None: ...

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        """Whether `request.version`'s artifact is still available (None: cannot tell)."""
        ...

    async def aclose(self) -> None: ...
