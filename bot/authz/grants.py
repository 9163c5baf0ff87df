"""Grants: ``action:service:environment`` with ``*`` wildcards, e.g. ``rollback:orders:prod``.

Missing trailing parts mean "any": ``ack`` is ``ack:*:*``; ``*`` alone grants everything.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIONS = (
    "view",
    "ack",
    "silence",
    "resolve",
    "rollback",
    "deploy",
    "approve",
    "lock",
    "oncall",
    "maint",
    "admin",
)


@dataclass(frozen=True, slots=True)
class Grant:
    action: str
    service: str = "*"
    environment: str = "*"

    def allows(self, action: str, service: str, environment: str) -> bool:
        return (
            self.action in ("*", action)
            and self.service in ("*", service)
            and self.environment in ("*", environment)
        )

    def __str__(self) -> str:
        return f"{self.action}:{self.service}:{self.environment}"


def parse_grant(text: str) -> Grant:
    parts = text.strip().split(":")
    if len(parts) > 3 or not all(parts):
        raise ValueError(f"grant must look like 'action:service:environment', got {text!r}")
    action = parts[0]
    if action != "*" and action not in ACTIONS:
        raise ValueError(
            f"unknown action {action!r} in grant {text!r} (one of {', '.join(ACTIONS)})"
        )
    parts += ["*"] * (3 - len(parts))
    return Grant(parts[0], parts[1], parts[2])
