"""Card actions on incidents (Acknowledge, Silence, Unsilence, Resolve, Escalate, Rollback),
already authorized; each kind of action has its handler in one table. A silence, and its
lifting, reach the incident's Alertmanager too when it has an API (`bot.silences`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import UserError
from bot.incidents.aggregate import Incident
from bot.incidents.rollback import RollbackHandoff
from bot.incidents.service import IncidentService, Outcome
from bot.incidents.status import card_ref
from bot.metrics import Metrics
from bot.model import ActionKind
from bot.outbox.enqueue import Outbox
from bot.settings.durations import parse_duration
from bot.settings.oncall import PAGER_CHANNELS
from bot.silences.asking import Asking

if TYPE_CHECKING:
    from bot.services import Context

MIN_SILENCE, MAX_SILENCE = timedelta(minutes=1), timedelta(days=7)

Handler = Callable[["Context[object]", Incident, str], Awaitable[Outcome]]


def ack_channel(via: str) -> str:
    """The paging channel an acknowledgement came by (``sms_reply``, ``link:sms`` → ``sms``;
    ``voice_key`` → ``voice``), else ``chat`` (a button or a link on a chat)."""
    channel = via.removeprefix("link:").removesuffix("_reply").removesuffix("_key")
    return channel if channel in PAGER_CHANNELS else "chat"


class Escalation(Protocol):
    async def escalate_now(
        self, conn: AsyncConnection, incident: Incident, now: datetime
    ) -> str: ...


class IncidentActions:
    def __init__(
        self,
        incidents: IncidentService,
        deploys: RollbackHandoff,
        outbox: Outbox,
        escalation: Escalation,
        upstream: Asking | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.incidents, self.deploys, self.outbox = incidents, deploys, outbox
        self.escalation = escalation
        self.upstream = upstream
        self.metrics = metrics
        self.handlers: dict[ActionKind, Handler] = {
            ActionKind.ACK: self._ack,
            ActionKind.UNACK: self._unack,
            ActionKind.SILENCE: self._silence,
            ActionKind.UNSILENCE: self._unsilence,
            ActionKind.RESOLVE: self._resolve,
            ActionKind.ESCALATE: self._escalate,
            ActionKind.ROLLBACK: self._rollback,
        }

    async def perform(
        self, ctx: Context[object], incident: Incident, kind: ActionKind, value: str
    ) -> Outcome:
        """Run one action on an incident the caller has locked (the dispatcher lets through
        only the kinds in this table)."""
        return await self.handlers[kind](ctx, incident, value)

    async def _ack(self, ctx: Context[object], incident: Incident, _value: str) -> Outcome:
        """Acknowledge, keeping how (`ack_channel`); the time since the episode's first page
        goes to ``tocsin_page_ack_seconds``."""
        via = ctx.via or ctx.chat.platform
        who = ctx.person.display
        outcome = await self.incidents.acknowledge(ctx.conn, incident, who, ctx.now, via=via)
        if outcome.changed and self.metrics is not None:
            first = await self.incidents.first_page_at(ctx.conn, incident)
            if first is not None:
                waited = max((ctx.now - first).total_seconds(), 0.0)
                self.metrics.page_ack_seconds.labels(ack_channel(via)).observe(waited)
        return outcome

    async def _unack(self, ctx: Context[object], incident: Incident, _value: str) -> Outcome:
        return await self.incidents.unacknowledge(ctx.conn, incident, ctx.person.display, ctx.now)

    async def _silence(self, ctx: Context[object], incident: Incident, value: str) -> Outcome:
        duration = silence_duration(value)
        who = ctx.person.display
        outcome = await self.incidents.silence(
            ctx.conn, incident, who, ctx.now, duration, tz=ctx.tz, lang=ctx.lang
        )
        if outcome.changed and self.upstream is not None:
            await self.upstream.ask(ctx.conn, incident, who, ctx.now, ctx.now + duration)
        return outcome

    async def _unsilence(self, ctx: Context[object], incident: Incident, _value: str) -> Outcome:
        """The person wants the alerts back: Alertmanager's silences of the incident go too,
        those made there included."""
        outcome = await self.incidents.unsilence(ctx.conn, incident, ctx.person.display, ctx.now)
        if outcome.changed and self.upstream is not None:
            await self.upstream.withdraw(ctx.conn, incident.id, ctx.now)
        return outcome

    async def _resolve(self, ctx: Context[object], incident: Incident, _value: str) -> Outcome:
        return await self.incidents.resolve(ctx.conn, incident, ctx.person.display, ctx.now)

    async def _escalate(self, ctx: Context[object], incident: Incident, _value: str) -> Outcome:
        """Run the next escalation step now; the incident's chats are told who pressed it."""
        params = {"id": incident.id, "user": ctx.person.display}
        try:
            incident.escalate()
        except UserError as refused:
            return Outcome(False, refused.text_key, params)
        key = await self.escalation.escalate_now(ctx.conn, incident, ctx.now)
        if key != "escalation.escalated":
            return Outcome(False, key, params)
        await self._tell(ctx, incident, key, params)
        return Outcome(True, key, params, announced=True)

    async def _rollback(self, ctx: Context[object], incident: Incident, _value: str) -> Outcome:
        """Hand the rollback to the deploy service and tell the incident's chats its answer."""
        if not (incident.service and incident.environment):
            return Outcome(False, "incident.no_rollback_target", {"id": incident.id})
        ticket = await self.deploys.request_rollback(
            ctx.conn,
            service=incident.service,
            environment=incident.environment,
            requested_by=ctx.person.id,
            reason=f"incident #{incident.id}: {incident.title}",
            destinations=list(incident.destinations),
            incident_id=incident.id,
            now=ctx.now,
        )
        params = {
            "user": ctx.person.display,
            "service": incident.service,
            "environment": incident.environment,
            "message": ticket.message,
        }
        key = "incident.rollback_unavailable" if ticket.unavailable else "incident.rollback"
        await self._tell(ctx, incident, key, params)
        return Outcome(ticket.accepted, key, params, announced=True)

    async def _tell(
        self, ctx: Context[object], incident: Incident, key: str, params: dict[str, Any]
    ) -> None:
        """A text to the incident's chats, threaded under its card."""
        await self.outbox.text(
            ctx.conn,
            incident.destinations,
            key,
            params,
            now=ctx.now,
            reply_to_card=card_ref(incident.id),
            priority=incident.tier.rank,
        )


def silence_duration(value: str) -> timedelta:
    """A button's or command's silence value, kept between one minute and a week."""
    try:
        duration = parse_duration(value or "30m")
    except (ValueError, OverflowError):
        raise UserError("incident.bad_duration", value=value) from None
    return min(max(duration, MIN_SILENCE), MAX_SILENCE)
