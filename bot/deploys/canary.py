"""The runs that follow a run: what undoes it (for a canary, taking only the canary away) and
what promotes a canary to all traffic; and the settings a canary needs to work at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.deploys.messages import said
from bot.deploys.ops import CANARY, Ask, target_for
from bot.deploys.run import Run
from bot.ports import DeployBackend
from bot.settings import Settings


def is_canary(run: Run) -> bool:
    """The run put a release on the canary only."""
    return bool(run.action == "deploy" and run.stage == CANARY)


def weight_param(settings: Settings, run: Run) -> str:
    """The parameter that carries the canary weight of `run`'s service and environment."""
    spec = settings.services.get(run.service)
    gate = (spec.gate.get(run.environment) or spec.gate.get("*")) if spec else None
    return gate.canary.weight_param if gate and gate.canary else "canary_weight"


def rollback_ask(
    settings: Settings,
    run: Run,
    requested_by: str,
    reason: str,
    *,
    destinations: Sequence[str] | None = None,
    incident_id: int | None = None,
    confirm: bool = False,
) -> Ask:
    """The rollback that undoes `run`, already confirmed (the gate asked for it) unless
    `confirm` (a person pressed a button: they confirm on the rollback's own card).

    A canary is taken away (weight 0) and the stable release it ran beside stays: the ledger's
    last verified version is not needed, and nothing else is redeployed. Any other run is
    undone by a rollback of everything to the last verified version."""
    canary = is_canary(run)
    return Ask(
        "rollback",
        run.service,
        run.environment,
        (run.previous or run.version) if canary else "",
        {weight_param(settings, run): "0"} if canary else {},
        False,
        requested_by,
        list(destinations if destinations is not None else run.destinations),
        confirm=confirm,
        reason=reason,
        incident_id=incident_id if incident_id is not None else run.incident_id,
        stage=CANARY if canary else None,
        parent_id=run.id if canary else None,
    )


def promotion_ask(settings: Settings, run: Run, requested_by: str) -> Ask:
    """The deploy of a canary's release to all traffic: the canary's parameters without its
    weight, from the version that ran beside the canary, and no approval of its own."""
    param = weight_param(settings, run)
    params = {k: v for k, v in run.params.items() if k != param}
    return Ask(
        "deploy",
        run.service,
        run.environment,
        run.version,
        params,
        False,
        requested_by,
        run.destinations,
        confirm=False,
        reason=said("deploy.reason.promotion", id=run.id),
        incident_id=run.incident_id,
        stage="",
        parent_id=run.id,
        previous=run.previous,
    )


def problems(settings: Settings, backends: Mapping[str, DeployBackend], metrics: bool) -> list[str]:
    """Canaries that could never work: no metrics source to judge them, or a backend that
    cannot send a release to a canary."""
    found: list[str] = []
    for service, spec in settings.services.items():
        for env, gate in spec.gate.items():
            if gate.canary is None:
                continue
            where = f"services.{service}.gate.{env}.canary"
            if not metrics:
                found.append(f"{where}: a canary needs a metrics source to judge it (metrics)")
            envs = (
                [env] if env != "*" else [e for e in spec.deploy if e not in spec.gate or e == "*"]
            )
            for environment in envs:
                try:
                    name, _target = target_for(settings, service, environment)
                except KeyError:
                    continue
                backend = backends.get(name)
                if backend is not None and not backend.capabilities.canary:
                    found.append(
                        f"{where}: the {backend.kind} backend {name!r} cannot deploy to a "
                        "canary first"
                    )
    return found
