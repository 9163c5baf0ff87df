"""The in-memory deploy service: records rollback requests and says plainly that nothing ran.

A fake of the core's rollback hand-off (`bot.incidents.rollback.RollbackHandoff`), used by tests
to see what was asked; `adapters.conformance` keeps its signature in step with the real one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.incidents.rollback import RollbackTicket


@dataclass(slots=True)
class RecordedRollback:
    service: str
    environment: str
    requested_by: str
    reason: str


@dataclass(slots=True)
class FakeRollbackHandoff:
    requests: list[RecordedRollback] = field(default_factory=list)
    accept: bool = False
    """False: answer honestly that no backend performed anything (the default)."""

    async def request_rollback(
        self,
        conn: AsyncConnection,
        *,
        service: str,
        environment: str,
        requested_by: str,
        reason: str,
        destinations: Sequence[str] = (),
        incident_id: int | None = None,
        now: datetime | None = None,
    ) -> RollbackTicket:
        self.requests.append(RecordedRollback(service, environment, requested_by, reason))
        if self.accept:
            run_id = f"fake-{len(self.requests)}"
            return RollbackTicket(True, f"rollback recorded as run {run_id} (test backend)", run_id)
        return RollbackTicket(
            False,
            "no deploy backend is configured, so nothing was rolled back",
            unavailable=True,
        )
