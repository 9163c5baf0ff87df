"""Card actions on incidents (Acknowledge, Silence, Resolve, Rollback), already authorized."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import UserError
from bot.incidents.service import IncidentService, Outcome
from bot.incidents.status import card_ref
from bot.model import ActionKind, Tier
from bot.outbox.enqueue import Outbox
from bot.ports import DeployService
from bot.settings.durations import parse_duration

if TYPE_CHECKING:
    from bot.services import Context

MIN_SILENCE, MAX_SILENCE = timedelta(minutes=1), timedelta(days=7)


class Escalation(Protocol):
    async def escalate_now(self, conn: AsyncConnection, incident: Any, now: datetime) -> str: ...


class IncidentActions:
    def __init__(
        self,
        incidents: IncidentService,
        deploys: DeployService,
        outbox: Outbox,
        escalation: Escalation,
    ) -> None:
        self.incidents, self.deploys, self.outbox = incidents, deploys, outbox
        self.escalation = escalation

    async def perform(self, ctx: Context, row: Any, kind: ActionKind, value: str) -> Outcome:
        """Run one action on an incident row the caller has locked."""
        svc, who, now = self.incidents, ctx.person.display, ctx.now
        if kind == ActionKind.ACK:
            return await svc.acknowledge(ctx.conn, row, who, now)
        if kind == ActionKind.UNACK:
            return await svc.unacknowledge(ctx.conn, row, who, now)
        if kind == ActionKind.SILENCE:
            return await svc.silence(ctx.conn, row, who, now, silence_duration(value))
        if kind == ActionKind.RESOLVE:
            return await svc.resolve(ctx.conn, row, who, now)
        if kind == ActionKind.ESCALATE:
            return await self._escalate(ctx, row)
        return await self._rollback(ctx, row)

    async def _escalate(self, ctx: Context, row: Any) -> Outcome:
        """Run the next escalation step now; the incident's chats are told who pressed it."""
        key = await self.escalation.escalate_now(ctx.conn, row, ctx.now)
        params = {"id": row.id, "user": ctx.person.display}
        if key != "escalation.escalated":
            return Outcome(False, key, params)
        await self._tell(ctx, row, key, params)
        return Outcome(True, key, params, announced=True)

    async def _rollback(self, ctx: Context, row: Any) -> Outcome:
        """Hand the rollback to the deploy service and tell the incident's chats its answer."""
        if not (row.service and row.environment):
            return Outcome(False, "incident.no_rollback_target", {"id": row.id})
        ticket = await self.deploys.request_rollback(
            ctx.conn,
            service=row.service,
            environment=row.environment,
            requested_by=ctx.person.id,
            reason=f"incident #{row.id}: {row.title}",
            destinations=row.destinations,
            incident_id=row.id,
            now=ctx.now,
        )
        params = {
            "user": ctx.person.display,
            "service": row.service,
            "environment": row.environment,
            "message": ticket.message,
        }
        key = "incident.rollback_unavailable" if ticket.unavailable else "incident.rollback"
        await self._tell(ctx, row, key, params)
        return Outcome(ticket.accepted, key, params, announced=True)

    async def _tell(self, ctx: Context, row: Any, key: str, params: dict[str, Any]) -> None:
        """A text to the incident's chats, threaded under its card."""
        await self.outbox.text(
            ctx.conn,
            row.destinations,
            key,
            params,
            now=ctx.now,
            reply_to_card=card_ref(row.id),
            priority=Tier(row.tier).rank,
        )


def silence_duration(value: str) -> timedelta:
    """A button's or command's silence value, kept between one minute and a week."""
    try:
        duration = parse_duration(value or "30m")
    except (ValueError, OverflowError):
        raise UserError("incident.bad_duration", value=value) from None
    return min(max(duration, MIN_SILENCE), MAX_SILENCE)
