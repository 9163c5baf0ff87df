"""The metrics port: what release checks ask of Prometheus (or anything that answers PromQL).

One call, `query`, evaluates an instant query at a moment (now when `at` is None) and returns
every series it gave as a `Sample`. Most checks want one number: `QueryResult.single` gives it,
or None with a note saying why not (no data, several series, NaN).

Values: ``NaN`` becomes None; ``+Inf`` and ``-Inf`` stay floats (``1/0`` is a real answer).
Errors: `RetryableDelivery` for "try again" (timeouts, connection failures, 429, 5xx, a 503
while the TSDB starts), `PermanentDelivery` for "this will never work" (a broken query —
Prometheus's ``bad_data`` —, 401/403, a URL that is not Prometheus).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

NO_DATA = "no data"
NAN = "NaN"


@dataclass(frozen=True, slots=True)
class Sample:
    value: float | None
    """None for NaN (and for a string result that is not a number)."""
    labels: dict[str, str]
    """The series' labels, ``__name__`` included when the query kept it."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    samples: tuple[Sample, ...]
    result_type: str
    """``vector``, ``scalar``, ``matrix`` (each series as its latest value) or ``string``."""

    def single(self) -> tuple[float | None, str]:
        """The one value and a note: ``(0.02, "")``, or None with the reason."""
        if not self.samples:
            return None, NO_DATA
        if len(self.samples) > 1:
            return None, (
                f"the query returned {len(self.samples)} series; aggregate it (sum, max…)"
            )
        value = self.samples[0].value
        return (None, NAN) if value is None else (value, "")


class MetricsSource(Protocol):
    name: str
    """The configured source's name (``prometheus``)."""

    async def query(self, promql: str, at: datetime | None = None) -> QueryResult:
        """`promql` evaluated at `at` (an aware datetime; now when None)."""
        ...

    async def aclose(self) -> None: ...
