"""The run desk: the deploy engine as people and the rest of Tocsin meet it. Commands ask for
runs and look them up here, the run card's buttons land here, run cards are drawn here, and the
incident Rollback button's hand-off (`bot.incidents.rollback.RollbackHandoff`) is answered here.
What it leaves to others: `Requests` records and answers runs, `Runner` runs them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from bot import reviews
from bot.deploys.canary import rollback_ask
from bot.deploys.cards import run_card, versions
from bot.deploys.ledger import reviewed, undoing
from bot.deploys.messages import said
from bot.deploys.moments import Zone
from bot.deploys.next_steps import retryable
from bot.deploys.ops import ENDED, SUCCEEDED
from bot.deploys.requests import Ask, Requests
from bot.deploys.run import Run
from bot.errors import CommandError, PermissionDenied, UserError
from bot.gates.drills import Drills
from bot.gates.gate_run import GateRun
from bot.gates.runner import PROMOTED, ROLLED_BACK, GateRunner, latest_gate
from bot.i18n import t, word
from bot.incidents.rollback import RollbackTicket
from bot.model import ActionKind, Card, Reply
from bot.settings import Settings
from bot.store.db import Database

if TYPE_CHECKING:
    from bot.services import Context


class RunDesk:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        requests: Requests,
        backends: Sequence[str],
        gates: GateRunner | None = None,
    ) -> None:
        self.settings, self.db, self.requests = settings, db, requests
        self.backends = frozenset(backends)
        self.gates = gates
        self.drills: Drills | None = None

    @property
    def configured(self) -> bool:
        return bool(self.backends)

    async def ask(self, conn: AsyncConnection, ask: Ask, now: datetime) -> Run:
        """Record the deploy or rollback someone asked for (validated); its card follows."""
        return await self.requests.ask(conn, ask, now)

    async def load(self, conn: AsyncConnection, run_id: int) -> Run:
        """The run, locked for this transaction; `UserError` when there is none."""
        return await self.requests.load(conn, run_id)

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
    ) -> RollbackTicket:
        """An incident card's Rollback button: a rollback to the last verified version. The
        press was authorized before anything asked; the run then waits for the presser's Confirm
        on its own card, and the environment's approval policy still holds. (The button has no
        platform dialog: that would ask before the grant is checked.)"""
        if not self.configured:
            return RollbackTicket(False, "no deploy backend is configured", unavailable=True)
        ask = Ask(
            "rollback",
            service,
            environment,
            "",
            {},
            False,
            requested_by,
            destinations,
            confirm=True,
            reason=reason,
            incident_id=incident_id,
        )
        try:
            row = await self.requests.ask(conn, ask, now)
        except CommandError as exc:
            return RollbackTicket(False, word(exc, "en"))
        return RollbackTicket(
            True, f"#{row.id}: {row.previous or '?'} → {row.version}", run_id=str(row.id)
        )

    async def press(self, ctx: Context[object], run_id: int, action: ActionKind) -> Reply:
        """A button on a run's card; each answer checks who may give it."""
        row = await self.requests.load(ctx.conn, run_id)
        requests, person, now = self.requests, ctx.person, ctx.now
        if action == ActionKind.CONFIRM:
            key = await requests.confirm(ctx.conn, row, person, now)
        elif action in (ActionKind.APPROVE, ActionKind.DENY):
            key = await requests.decide(
                ctx.conn, row, person, now, approve=action == ActionKind.APPROVE
            )
        elif action == ActionKind.CANCEL:
            key = await requests.cancel(ctx.conn, row, person, now)
        elif action in (ActionKind.HOLD, ActionKind.ROLLBACK):
            return await self._after_gate(ctx, row, action)
        elif action == ActionKind.PROMOTE:
            return await self._promote(ctx, row)
        elif action == ActionKind.RETRY:
            return await self._retry(ctx, row)
        elif action == ActionKind.REVIEW:
            return await self._review(ctx, row)
        else:
            raise UserError("error.bad_card")
        public = not key.startswith("deploy.already")
        return Reply(t(key, ctx.lang, id=run_id, user=person.display), private=not public)

    async def _after_gate(self, ctx: Context[object], row: Run, action: ActionKind) -> Reply:
        """Hold a countdown, or ask to roll the release back (both need the rollback grant,
        checked before anything is asked: the rollback then waits for the presser's Confirm
        on its own card)."""
        _require(ctx, "rollback", row)
        if action == ActionKind.HOLD:
            if self.gates is None or not await self.gates.hold(
                ctx.conn, row.id, ctx.person.display, ctx.now
            ):
                return Reply(t("gate.nothing_to_hold", ctx.lang, id=row.id), private=True)
            return Reply(t("gate.held", ctx.lang, id=row.id, user=ctx.person.display))
        if self.gates is not None:
            gate = await latest_gate(ctx.conn, row.id)
            if gate is not None and gate.state in (ROLLED_BACK, PROMOTED):
                done = gate.promote_run_id or gate.rollback_run_id
                if not await self._undone(ctx.conn, done):
                    return Reply(t(f"gate.state.{gate.state}", ctx.lang, run=done), private=True)
        ask = rollback_ask(
            self.settings, row, ctx.person.id, said("deploy.reason.after", id=row.id), confirm=True
        )
        rollback = await self.requests.ask(ctx.conn, ask, ctx.now)
        if self.gates is not None:
            await self.gates.rolled_back(ctx.conn, row.id, rollback.id, ctx.now)
        return Reply(describe(rollback, ctx.lang))

    async def _undone(self, conn: AsyncConnection, run_id: int | None) -> bool:
        """The run a gate led to ended without doing its work (so it may be asked for again)."""
        if run_id is None:
            return False
        done = await self.requests.store.load(conn, run_id)
        return done.state in ENDED and done.state != SUCCEEDED

    async def _retry(self, ctx: Context[object], row: Run) -> Reply:
        """Ask for the same run again; it waits for its requester's Confirm and its approvals
        like any other."""
        if not retryable(row) or row.state not in ENDED:
            raise UserError("deploy.retry.refused", id=row.id)
        _require(ctx, row.action, row)
        ask = Ask(
            row.action,
            row.service,
            row.environment,
            row.version,
            dict(row.params),
            False,
            ctx.person.id,
            [str(ctx.chat), *row.destinations],
            reason=said("deploy.reason.retry", id=row.id),
            incident_id=row.incident_id,
        )
        again = await self.requests.ask(ctx.conn, ask, ctx.now)
        return Reply(describe(again, ctx.lang))

    async def _review(self, ctx: Context[object], row: Run) -> Reply:
        """The review draft of the rollback that undid the run (or of the rollback itself),
        to the presser alone."""
        _require(ctx, "view", row)
        rollback = await reviewed(ctx.conn, row.id)
        stored = await reviews.find(ctx.conn, run_id=rollback) if rollback is not None else None
        if rollback is None or stored is None:
            return Reply(t("deploy.review.none", ctx.lang, id=row.id), private=True)
        card = await reviews.render(ctx.conn, reviews.review_ref(rollback), ctx.lang, ctx.tz)
        if card is None:  # kept before its facts were: only its Markdown is left
            return Reply(stored.markdown, private=True)
        return Reply(card.title, private=True, card=card)

    async def _promote(self, ctx: Context[object], row: Run) -> Reply:
        """Send a canary that passed (or could not be judged) to all traffic."""
        _require(ctx, "deploy", row)
        if self.gates is None:
            raise UserError("gate.nothing_to_promote", id=row.id, why="")
        promotion = await self.gates.promote(ctx.conn, row.id, ctx.person.id, ctx.now)
        return Reply(
            t(
                "gate.promoted",
                ctx.lang,
                id=row.id,
                user=ctx.person.display,
                promotion=promotion.id,
                version=row.version,
            )
        )

    async def card(
        self, conn: AsyncConnection, run_id: int, lang: str, tz: Zone = UTC
    ) -> Card | None:
        """The run's card for a reader of `lang` in zone `tz` (None: there is no such run)."""
        try:
            row = await self.requests.load(conn, run_id)
        except UserError:
            return None
        approvals = await self.requests.approvals(conn, run_id)
        gate: GateRun | None = None
        lines: list[str] = []
        if self.gates is not None:
            gate, lines = await self.gates.view(conn, run_id, lang)
        rollback = None
        if gate is not None and gate.rollback_run_id is not None:
            rollback = await self.requests.store.load(conn, gate.rollback_run_id)
        if rollback is None:
            rollback = await undoing(conn, row)
        review = row.state in ENDED and await reviewed(conn, run_id) is not None
        return run_card(
            row,
            approvals,
            self.requests.needed(row),
            lang,
            gate,
            lines,
            rollback=rollback,
            review=review,
            tz=tz,
        )


def _require(ctx: Context[object], action: str, row: Run) -> None:
    """Refuse a press by someone without the grant for `action` on the run's service."""
    if not ctx.person.may(action, row.service, row.environment):
        raise PermissionDenied(
            "auth.denied",
            action=t(f"action.{action}", ctx.lang),
            scope=f"{row.service}/{row.environment}",
            roles=", ".join(ctx.person.roles) or "-",
        )


def describe(row: Run, lang: str) -> str:
    return t(
        "deploy.asked",
        lang,
        id=row.id,
        action=t(f"deploy.action.{row.action}", lang),
        service=row.service,
        environment=row.environment,
        versions=versions(row, lang),
    )
