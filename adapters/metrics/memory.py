"""An in-memory metrics source for tests: each query string gets the answer a test set.

```python
metrics = MemoryMetrics()
metrics.set_value("sum(rate(errors[5m]))", 0.02)
metrics.set_nan("x / 0")
metrics.set_error("sum(", PermanentDelivery("memory: bad_data: parse error"))
```

A query nobody set answers like Prometheus for a series that does not exist: an empty vector.
Every call is recorded in `queries`, so a test can see what was asked and at which moment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from bot.ports import QueryResult, Sample

Answer = QueryResult | Exception


@dataclass
class MemoryMetrics:
    name: str = "memory"
    answers: dict[str, Answer] = field(default_factory=dict)
    """Query text → its result, or the exception the query raises."""
    queries: list[tuple[str, datetime | None]] = field(default_factory=list)
    closed: bool = False

    def set_result(self, promql: str, answer: Answer) -> None:
        self.answers[promql] = answer

    def set_value(self, promql: str, value: float, labels: dict[str, str] | None = None) -> None:
        """One series with `value` (``math.nan`` reads as None, as from Prometheus)."""
        kept = None if math.isnan(value) else value
        self.set_result(promql, QueryResult((Sample(kept, dict(labels or {})),), "vector"))

    def set_series(self, promql: str, *series: tuple[float, dict[str, str]]) -> None:
        samples = tuple(Sample(None if math.isnan(v) else v, dict(ls)) for v, ls in series)
        self.set_result(promql, QueryResult(samples, "vector"))

    def set_empty(self, promql: str) -> None:
        self.set_result(promql, QueryResult((), "vector"))

    def set_nan(self, promql: str) -> None:
        self.set_value(promql, math.nan)

    def set_error(self, promql: str, error: Exception) -> None:
        self.set_result(promql, error)

    async def query(self, promql: str, at: datetime | None = None) -> QueryResult:
        self.queries.append((promql, at))
        answer = self.answers.get(promql, QueryResult((), "vector"))
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def aclose(self) -> None:
        self.closed = True


def validate(raw: object) -> list[str]:
    if isinstance(raw, dict) and raw:
        return [f"{key}: unknown key (the memory source takes none)" for key in raw]
    return []


def create(raw: object, name: str = "memory") -> MemoryMetrics:
    return MemoryMetrics(name)
