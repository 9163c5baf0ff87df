"""An in-memory deploy backend for tests: records what it was asked and ends runs when told."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import BackendCapabilities, DeployRequest, Phase, RunRef, RunStatus


@dataclass
class MemoryBackend:
    name: str = "memory"
    kind: str = "memory"
    capabilities: BackendCapabilities = field(
        default_factory=lambda: BackendCapabilities(artifact_check=True, canary=True)
    )
    started: list[DeployRequest] = field(default_factory=list)
    """Every `start` call, repeats included."""
    phases: dict[str, Phase] = field(default_factory=dict)
    """Run id → its phase; a started run is running until `finish` says otherwise."""
    cancelled: list[str] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    """Versions whose artifact no longer exists."""
    check_hangs: bool = False
    """`artifact_exists` never answers (a registry that does not respond)."""
    check_error: Exception | None = None
    """`artifact_exists` raises this (a registry that fails)."""
    fail_start: list[Exception] = field(default_factory=list)

    async def start(self, request: DeployRequest) -> RunRef:
        if self.fail_start:
            raise self.fail_start.pop(0)
        self.started.append(request)
        self.phases.setdefault(request.run_id, Phase.RUNNING)
        return RunRef(request.run_id, f"https://ci.example.com/{request.run_id}", {"n": 1})

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        phase = self.phases.get(ref.id)
        if phase is None:
            raise PermanentDelivery(f"memory: no run {ref.id}")
        return RunStatus(phase, f"memory: {phase}", 1.0 if phase.done else 0.5)

    async def cancel(self, ref: RunRef, request: DeployRequest) -> None:
        self.cancelled.append(ref.id)
        self.phases[ref.id] = Phase.CANCELLED

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        if self.check_hangs:
            await asyncio.Event().wait()
        if self.check_error is not None:
            raise self.check_error
        return request.version not in self.gone

    def finish(self, run_id: str, phase: Phase = Phase.SUCCEEDED) -> None:
        self.phases[run_id] = phase

    def running(self) -> list[str]:
        return [run for run, phase in self.phases.items() if phase is Phase.RUNNING]

    async def aclose(self) -> None:
        pass


__all__ = ["MemoryBackend", "RetryableDelivery"]


def validate(raw: dict[str, object]) -> list[str]:
    return [f"{key}: unknown key (the memory backend takes none)" for key in raw]


def validate_target(raw: dict[str, object]) -> list[str]:
    return []


def create(name: str, raw: dict[str, object], *, clock: object = None) -> MemoryBackend:
    return MemoryBackend(name)
