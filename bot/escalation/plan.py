"""A policy's steps frozen for one escalation episode, and how it advances (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.alerts.routing import find_route
from bot.model import Tier
from bot.settings import Settings
from bot.settings.oncall import EscalationPolicy


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

    @classmethod
    def of(cls, name: str, policy: EscalationPolicy) -> Plan:
        steps = tuple(Step(s.targets, s.delay.total_seconds(), s.round_robin) for s in policy.steps)
        return cls(name, steps, policy.repeat)

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
        return cls(policy, steps, int(data["repeat"]))


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
