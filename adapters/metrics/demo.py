"""The demo's metrics: what the demo deploy script (`bot.demo_deploy`) says about each service's
health, read from its state folder. Two queries are understood::

    demo_error_ratio{service="orders",environment="prod"}   # 0.0, or 0.3 after a "bad" release
    demo_request_rate{service="orders",environment="prod"}  # 50 requests per second

Anything else answers like Prometheus for a series that does not exist: no data.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from bot.ports import QueryResult, Sample

_QUERY = re.compile(
    r'^(demo_error_ratio|demo_request_rate)\{service="([a-z0-9_-]+)",'
    r'environment="([a-z0-9_-]+)"\}$'
)
REQUEST_RATE = 50.0


class DemoMetrics:
    def __init__(self, state_dir: Path, name: str = "demo") -> None:
        self.state_dir, self.name = state_dir, name

    async def query(self, promql: str, at: datetime | None = None) -> QueryResult:
        found = _QUERY.match(promql.strip())
        if found is None:
            return QueryResult((), "vector")
        metric, service, environment = found.groups()
        labels = {"service": service, "environment": environment}
        if metric == "demo_request_rate":
            return QueryResult((Sample(REQUEST_RATE, labels),), "vector")
        health = self.state_dir / f"{service}-{environment}.errors"
        try:
            ratio = float(health.read_text().strip() or 0)
        except (OSError, ValueError):
            ratio = 0.0
        return QueryResult((Sample(ratio, labels),), "vector")

    async def aclose(self) -> None:
        pass


def validate(raw: object) -> list[str]:
    if not isinstance(raw, dict) or set(raw) != {"state_dir"}:
        return ["(section): the demo source takes one key, state_dir"]
    return []


def create(raw: object, name: str = "demo") -> DemoMetrics:
    assert isinstance(raw, dict)
    return DemoMetrics(Path(str(raw["state_dir"])), name)
