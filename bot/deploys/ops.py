"""What a run is (pure): its states, the operation an approval binds to, where it deploys."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from bot.settings import Settings
from bot.settings.deploy import Approval, DeploySettings

if TYPE_CHECKING:
    from bot.authz import Person

AWAITING_CONFIRMATION = "awaiting_confirmation"
AWAITING_APPROVAL = "awaiting_approval"
QUEUED = "queued"
STARTING = "starting"
RUNNING = "running"
CANCELLING = "cancelling"
SUCCEEDED, FAILED, CANCELLED = "succeeded", "failed", "cancelled"
DENIED, EXPIRED = "denied", "expired"

WAITING = (AWAITING_CONFIRMATION, AWAITING_APPROVAL, QUEUED)
ACTIVE = (STARTING, RUNNING, CANCELLING)
ENDED = (SUCCEEDED, FAILED, CANCELLED, DENIED, EXPIRED)

VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}\Z")
PARAM_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}\Z")
r"""Both match whole (``\Z``, not ``$``, which would let a trailing newline through)."""
ROLLBACK_FIRST = 1000
"""Added to a rollback's priority: rollbacks start before queued deploys."""
CANARY = "canary"
"""A run's stage when it concerns only the canary (see `bot.ports.DeployRequest`)."""


@dataclass(frozen=True, slots=True)
class Ask:
    """A deploy or rollback someone asked for."""

    action: str
    service: str
    environment: str
    version: str
    """For a rollback: the target ("" = the last verified version)."""
    params: dict[str, str]
    dry_run: bool
    requested_by: str
    destinations: Sequence[str]
    confirm: bool = True
    """The requester confirms on the card first (a pressed Rollback button already did)."""
    reason: str = ""
    incident_id: int | None = None
    stage: str | None = None
    """None: a deploy goes to its canary first when its gate has one (`deploy_stage`); a
    rollback concerns everything. ``canary`` / ``""`` say which for runs that follow a canary."""
    parent_id: int | None = None
    """The canary run that this run promotes or takes away."""
    previous: str | None = None
    """What runs now, when the ledger's latest run is not it (a canary's promotion)."""


@dataclass(frozen=True, slots=True)
class Stage:
    """Where a deploy goes first: the canary at `weight` percent (passed to the backend as the
    parameter `param`), or, with `name` "", everything at once."""

    name: str = ""
    weight: int = 0
    param: str = ""


def deploy_stage(
    settings: Settings, service: str, environment: str, params: dict[str, str]
) -> Stage:
    """The stage of a new deploy: a canary when the service's gate in `environment` has one.
    The weight parameter in `params` picks another weight for this deploy, 0 none at all.
    Raises ValueError(parameter, value) for a weight that is not 0–99."""
    spec = settings.services.get(service)
    gate = (spec.gate.get(environment) or spec.gate.get("*")) if spec else None
    if gate is None or gate.canary is None:
        return Stage()
    canary = gate.canary
    given = params.get(canary.weight_param)
    if given is None:
        return Stage(CANARY, canary.weight, canary.weight_param)
    if not given.isdigit() or not 0 <= int(given) <= 99:
        raise ValueError(canary.weight_param, given)
    weight = int(given)
    return Stage(CANARY, weight, canary.weight_param) if weight else Stage()


def policy(settings: Settings, environment: str) -> Approval:
    """The approval policy of `environment` (none at all when it has none)."""
    return settings.deploy.approvals.get(environment, Approval())


def needed(settings: Settings, action: str, environment: str, parent_id: int | None) -> int:
    """Approvals a run needs: the environment's policy, except for a canary's promotion,
    which carries the approvals of its canary."""
    if action == "deploy" and parent_id is not None:
        return 0
    found = policy(settings, environment)
    return found.rollback if action == "rollback" else found.deploy


def may_approve(rule: Approval, person: Person, service: str, environment: str) -> bool:
    """`person` holds the grant to approve runs of `service` in `environment` and is one of the
    policy's approvers (by id or role)."""
    if not person.may("approve", service, environment):
        return False
    if not rule.approvers:
        return True
    return person.id in rule.approvers or bool(set(person.roles) & set(rule.approvers))


def opening(
    deploy: DeploySettings, *, confirm: bool, needed: int, now: datetime
) -> tuple[str, datetime]:
    """The state a run waits in and when that wait lapses (for a queued run: when it may
    start), once asked (`confirm`: its requester must still confirm) or once confirmed."""
    if confirm:
        return AWAITING_CONFIRMATION, now + deploy.confirm_timeout
    if needed:
        return AWAITING_APPROVAL, now + deploy.approval_ttl
    return QUEUED, now


def op_hash(
    action: str,
    service: str,
    environment: str,
    version: str,
    previous: str,
    backend: str,
    params: dict[str, str],
    dry_run: bool,
) -> str:
    """The operation an approval approves: any change to it needs a new approval."""
    body = orjson.dumps(
        [action, service, environment, version, previous, backend, params, dry_run],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(body).hexdigest()


def target_for(settings: Settings, service: str, environment: str) -> tuple[str, dict[str, Any]]:
    """The backend name and its target settings for `service` in `environment` (KeyError when
    the service does not deploy there)."""
    targets = settings.services[service].deploy
    found = targets.get(environment) or targets.get("*")
    if found is None:
        raise KeyError(environment)
    target = {k: v for k, v in found.items() if k != "backend"}
    return str(found["backend"]), target
