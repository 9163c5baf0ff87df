"""Settings for deploys and rollbacks: backends, approval policies, and the engine's timings.
A service's per-environment targets live under `services.<name>.deploy`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.model import Tier
from bot.settings.durations import Duration


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Approval(_Frozen):
    """Who must approve a run in an environment before it starts (never its requester)."""

    deploy: int = Field(0, ge=0, le=5)
    """Approvals a deploy needs."""
    rollback: int = Field(0, ge=0, le=5)
    """Approvals a rollback needs (0: a rollback during an incident is not held up)."""
    approvers: tuple[str, ...] = ()
    """Roles or user ids that may approve (empty: anyone holding the `approve` grant)."""
    on_call: str | None = None
    """A schedule: at least one approval must come from whoever is on call there."""


class AlertRollback(_Frozen):
    """An incident of these tiers on a service a deploy changed this recently proposes the
    rollback, or performs it where the service's gate is in `auto` mode."""

    tiers: tuple[Tier, ...] = (Tier.P0,)
    within: Duration = timedelta(minutes=30)


class Drill(_Frozen):
    """A rollback drill for one service: deploy `version`, a release known to be bad, in
    `environment`; its gate must catch it and the rollback must undo it."""

    environment: str = "staging"
    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
    every: Duration | None = None
    """Run one on its own this often (null: only /drill)."""
    timeout: Duration = timedelta(minutes=30)
    page_tier: Tier = Tier.P2
    """The tier of the incident a failed drill opens, which pages the service's owner: a broken
    rollback path is not an outage yet, but must not wait for the next one."""


class DeploySettings(_Frozen):
    backends: dict[str, dict[str, Any]] = {}
    """Named backends: ``{kind: kubernetes|helm|argocd|gitlab|jenkins|github|shell|webhook,
    …}``; each kind validates its own keys."""
    approvals: dict[str, Approval] = {}
    """By environment."""
    confirm_timeout: Duration = timedelta(minutes=2)
    """A /deploy waits this long for its requester's Confirm before it lapses."""
    approval_ttl: Duration = timedelta(minutes=30)
    """An approval lapses if its run has not started this long after it."""
    poll_interval: Duration = timedelta(seconds=5)
    run_timeout: Duration = timedelta(hours=1)
    """A run still running after this is cancelled and failed."""
    max_parallel: int = Field(4, ge=1, le=64)
    """Runs at once across all services; queued work waits, core rollbacks first."""
    retention: int = Field(5, ge=1, le=100)
    """Previous versions kept per service and environment in /history and for rollbacks."""
    recent_window: Duration = timedelta(hours=1)
    drills: dict[str, Drill] = {}
    """By service."""
    alert_rollback: AlertRollback | None = AlertRollback()
    """null: alerts never propose a rollback by themselves."""
    """An incident's card lists its service's deploys this recent."""
