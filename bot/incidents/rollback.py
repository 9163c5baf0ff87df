"""The hand-off from an incident card's Rollback button to the deploy engine.

This is not a port: both sides are core. `IncidentActions` asks, `bot.deploys.service.RunDesk`
answers, and the only other implementations are test fakes. The rollback has to be requested
in the transaction of the button press (the press, its audit row and the new run commit or
fail together), so the hand-off takes the press's `AsyncConnection` as it is. Adapters never
implement or see it, which is why it lives here, next to the code that calls it, and not in
`bot.ports`, whose signatures carry no SQLAlchemy type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True, slots=True)
class RollbackTicket:
    """What the deploy service said about a requested rollback, told to the user as is."""

    accepted: bool
    message: str
    run_id: str = ""
    unavailable: bool = False
    """True when no deploy backend exists to run it: the user is told so in their language."""


class RollbackHandoff(Protocol):
    """The hand-off from a card's Rollback button to whatever runs deploys, inside the press's
    transaction; the run's card goes to `destinations`."""

    async def request_rollback(
        self,
        conn: AsyncConnection,
        *,
        service: str,
        environment: str,
        requested_by: str,
        reason: str,
        destinations: Sequence[str],
        incident_id: int | None,
        now: datetime,
    ) -> RollbackTicket: ...
