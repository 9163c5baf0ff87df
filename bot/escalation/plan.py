"""A policy's steps frozen for one escalation episode, and how it advances (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.alerts.routing import find_route
from bot.model import Tier
from bot.settings import Settings
from bot.settings.oncall import EscalationPolicy

OWNER_LABEL = "page_owner"
"""An alert label: ``"true"`` has its incident page the service's owner
(``services.<name>.owner``) with the first step of every pass, as well as whoever the route's
policy names, or alone where the route pages nobody. Failed rollback drills set it: their owner
must hear of them even when the route's on-call is somebody else."""


@dataclass(frozen=True, slots=True)
class Step:
    targets: tuple[str, ...]
    delay: float
    """Seconds to wait for an acknowledgement before the next step."""
    round_robin: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    policy: str
    steps: tuple[Step, ...]
    repeat: int
    responders: tuple[str, ...] = ()
    """Targets paged with the first step of every pass on top of its own, and never dropped by
    its round robin: people the incident itself asks for, whatever the route's policy says."""

    @classmethod
    def of(cls, name: str, policy: EscalationPolicy, responders: tuple[str, ...] = ()) -> Plan:
        steps = tuple(Step(s.targets, s.delay.total_seconds(), s.round_robin) for s in policy.steps)
        return cls(name, steps, policy.repeat, responders)

    def after(self, step: int, loop: int) -> tuple[int, int] | None:
        """The position that follows running `step` of pass `loop`; None when it was the last."""
        if step + 1 < len(self.steps):
            return step + 1, loop
        if loop < self.repeat:
            return 0, loop + 1
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "repeat": self.repeat,
            "responders": list(self.responders),
            "steps": [
                {"targets": list(s.targets), "delay": s.delay, "round_robin": s.round_robin}
                for s in self.steps
            ],
        }

    @classmethod
    def from_json(cls, policy: str, data: dict[str, Any]) -> Plan:
        steps = tuple(
            Step(tuple(s["targets"]), float(s["delay"]), bool(s.get("round_robin")))
            for s in data["steps"]
        )
        return cls(policy, steps, int(data["repeat"]), tuple(data.get("responders", ())))


def plan_for(
    settings: Settings, route: str, tier: Tier, service: str, labels: dict[str, str]
) -> Plan | None:
    """The plan of a new episode: the route's policy for the tier, plus the service's owner when
    the alert asks for them (see `OWNER_LABEL`). None: nobody is paged."""
    name = policy_name(settings, route, tier)
    policy = settings.escalation_policies.get(name) if name else None
    owner = _owner(settings, service, labels)
    if name and policy:
        return Plan.of(name, policy, owner)
    if owner:  # the route pages nobody, yet the owner must hear of it
        return Plan(owner[0], (Step(owner, 0.0),), 0)
    return None


def _owner(settings: Settings, service: str, labels: dict[str, str]) -> tuple[str, ...]:
    """``owner:<service>`` when the alert carries ``page_owner="true"`` and the service has an
    owner; else nothing."""
    spec = settings.services.get(service)
    if labels.get(OWNER_LABEL) != "true" or spec is None or not spec.owner:
        return ()
    return (f"owner:{service}",)


def policy_name(settings: Settings, route: str, tier: Tier) -> str | None:
    """The policy that pages for an incident of `tier` on `route` (None: page nobody)."""
    found = find_route(settings, route)
    chosen = found.escalation_policy if found else None
    if isinstance(chosen, dict):
        return chosen.get(tier)
    return chosen or settings.paging.default_policy


def route_channels(settings: Settings, route: str) -> tuple[str, ...] | None:
    """The route's own channels for the people it pages, if it sets them."""
    found = find_route(settings, route)
    return found.notify if found else None
