"""Kubernetes runs on a Deployment that a Flagger ``Canary`` drives (the target's
``workload: flagger``; the Canary is named like the Deployment unless ``flagger_canary`` says).

Tocsin patches the Deployment as for a plain one (`kubernetes_canary`); Flagger notices the new
pod template, runs its canary and its analysis, and promotes the primary or rolls back. So the
run follows the Canary's ``status.phase``: ``Succeeded`` is succeeded, and so is ``Initialized``
(Flagger's first sight of a Deployment copies it to the primary without an analysis, and stays
there); ``Failed`` is failed with the message of its last condition, ``Terminating`` or
``Terminated`` (the Canary being deleted) is failed, and every other phase (``Initializing``,
``Waiting``, ``Progressing`` … ``Finalising``) is running, with ``status.canaryWeight``.
Tocsin's health gate runs after Flagger's. A Tocsin canary stage is refused: Flagger runs the
canary itself.

Until Flagger notices the new template, the Canary still shows the last release's phase
(``Succeeded``, most often). Flagger records the hash of each pod template it has taken on in
``status.lastAppliedSpec``; Tocsin reads it before its patch, keeps it in the run's data and, in
the same patch, as the Deployment's annotation ``tocsin.dev/flagger-last-applied`` (where a
start repeated after a lost answer finds it), and waits while the Canary's hash is that one.
The Deployment's own checks stay: a template of another run fails the run, and a pause by this
run's cancel (``spec.paused``, as for a plain Deployment) is "cancelled": the canary's pods stop
rolling, and what becomes of a canary that makes no progress is Flagger's to decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kubernetes.client import V1Deployment

from adapters.deploy.kubernetes_api import CANARY, Gone, KubernetesApi
from adapters.deploy.kubernetes_canary import CANARY as CANARY_STAGE
from adapters.deploy.kubernetes_rollout import (
    PAUSED_BY,
    RUN_ID,
    Watch,
    changed_since,
    object_annotations,
    running,
    template_annotations,
)
from adapters.deploy.kubernetes_settings import KubernetesTarget
from bot.errors import PermanentDelivery
from bot.ports import DeployRequest, Phase, RunStatus

LAST_APPLIED = "tocsin.dev/flagger-last-applied"
"""Deployment annotation: the Canary's ``status.lastAppliedSpec`` before this run's patch."""
ENDED = {"Terminating", "Terminated"}


def refuse_canary_stage(request: DeployRequest, target: KubernetesTarget) -> None:
    if request.stage == CANARY_STAGE:
        raise PermanentDelivery(
            f"Flagger runs the canary of {target.namespace}/{target.deployment} itself (its "
            f"Canary {target.canary_object}): remove canary from the service's gate"
        )


async def last_applied(
    api: KubernetesApi, request: DeployRequest, target: KubernetesTarget, deployment: V1Deployment
) -> str:
    """The Canary's ``lastAppliedSpec`` before this run's patch: read from the Canary, or from
    the Deployment once the run has patched it."""
    if not request.dry_run and template_annotations(deployment).get(RUN_ID) == request.run_id:
        return object_annotations(deployment).get(LAST_APPLIED, "")
    canary = await api.read(CANARY, target.namespace, target.canary_object)
    return str(_status(canary).get("lastAppliedSpec") or "")


async def status(
    api: KubernetesApi,
    deployment: V1Deployment,
    data: Mapping[str, Any],
    watch: Watch,
    now: datetime,
) -> RunStatus:
    changed = changed_since(deployment, watch.run_id)
    if changed is not None:
        return changed
    if deployment.spec.paused and object_annotations(deployment).get(PAUSED_BY) == watch.run_id:
        return RunStatus(
            Phase.CANCELLED,
            "rollout paused by Tocsin, Flagger's canary makes no progress "
            "(roll back, or resume with kubectl rollout resume)",
        )
    namespace, name = data["namespace"], data["flagger_canary"]
    try:
        canary = await api.read(CANARY, namespace, name)
    except Gone:
        return RunStatus(Phase.FAILED, f"the Flagger Canary {namespace}/{name} no longer exists")
    return assess(canary, str(data["last_applied"]), watch, now)


def assess(canary: Mapping[str, Any], last_applied: str, watch: Watch, now: datetime) -> RunStatus:
    """Where Flagger's canary of this run stands (`last_applied`: the Canary's hash before it)."""
    status = _status(canary)
    phase = str(status.get("phase") or "")
    if str(status.get("lastAppliedSpec") or "") == last_applied:
        shown = f"; its phase {phase} is the last release's" if phase else ""
        return running(f"waiting for Flagger to notice the new revision{shown}", watch, now)
    if phase == "Succeeded":
        return RunStatus(Phase.SUCCEEDED, f"Flagger promoted the canary{_said(status)}", 1.0)
    if phase == "Initialized":
        first = "Flagger made this release its primary (a first release has no analysis)"
        return RunStatus(Phase.SUCCEEDED, first, 1.0)
    if phase == "Failed":
        return RunStatus(Phase.FAILED, f"Flagger's canary failed{_said(status)}")
    if phase in ENDED:
        return RunStatus(Phase.FAILED, f"the Flagger Canary is {phase.lower()}")
    weight, failed = int(status.get("canaryWeight") or 0), int(status.get("failedChecks") or 0)
    checks = f", {failed} failed check(s)" if failed else ""
    return running(f"Flagger: {phase or 'Pending'}, canary weight {weight}%{checks}", watch, now)


def _said(status: Mapping[str, Any]) -> str:
    """``: <message>`` of the Canary's last condition, where it has one."""
    conditions = status.get("conditions") or []
    message = conditions[-1].get("message") if conditions else None
    return f": {message}" if message else ""


def _status(canary: Mapping[str, Any]) -> Mapping[str, Any]:
    found = canary.get("status")
    return found if isinstance(found, Mapping) else {}
