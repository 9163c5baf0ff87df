"""What the Kubernetes backend's tests share: a run's request and backends made against the fake
API server (`fake_kubernetes`), closed when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fake_kubernetes import TOKEN, FakeKubernetes

from adapters.deploy import kubernetes
from adapters.deploy.kubernetes import KubernetesBackend
from bot.clock import Clock
from bot.ports import DeployRequest

Make = Callable[..., KubernetesBackend]


def run_request(target: dict[str, Any], /, **changes: Any) -> DeployRequest:
    """A deploy of orders 1.4.2 over 1.4.1 in prod to `target` (unless `changes` give another),
    as run 42."""
    base: dict[str, Any] = {
        "run_id": "run-42",
        "action": "deploy",
        "service": "orders",
        "environment": "prod",
        "version": "1.4.2",
        "previous": "1.4.1",
        "target": target,
        "requested_by": "alice",
    }
    return DeployRequest(**{**base, **changes})


@asynccontextmanager
async def backends(api: FakeKubernetes, clock: Clock) -> AsyncIterator[Make]:
    """Make backends (``build(**settings)``) that talk to `api`; all are closed at the end."""
    made: list[KubernetesBackend] = []

    def build(**settings: Any) -> KubernetesBackend:
        raw = {"api_url": api.url, "token": TOKEN, **settings}
        made.append(kubernetes.create("k8s-prod", raw, clock=clock))
        return made[-1]

    try:
        yield build
    finally:
        for backend in made:
            await backend.aclose()
