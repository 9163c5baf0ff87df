"""A deploy run and every way it moves, as pure functions of `now`.

Each transition returns a `Change`: the run as it now is, the columns it wrote, what follows
from it (`Refresh` the card, `ReleaseLock`, `Review` a rollback, `Tell` the chats) and, for a
person's press, the answer. A transition the run's state does not allow is refused in one place
(`Run._require`) with the answer a late press has always had, ``deploy.already.<state>``, and
the run stays as it was; the engine's own transitions meet that refusal only if its claim is
broken, since it re-reads the run's state under lock before each of them.

    awaiting_confirmation ─confirm─▶ awaiting_approval ─approve─▶ queued ─claim─▶ starting
       (confirm, when no approval is needed) ──────────────────▶ queued
    queued ─approvals_lapsed─▶ awaiting_approval          queued ─wait─▶ queued
    starting ─started─▶ running ─polled─▶ running         starting ─retry─▶ queued
    awaiting_* ─lapse─▶ expired     awaiting_* ─deny─▶ denied     waiting ─cancel─▶ cancelled
    starting · running · cancelling ─cancel─▶ cancelling (─retry─▶ itself, bar starting)
    starting · running · cancelling ─end─▶ succeeded · failed · cancelled
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.deploys.messages import said
from bot.deploys.ops import (
    ACTIVE,
    AWAITING_APPROVAL,
    AWAITING_CONFIRMATION,
    CANARY,
    CANCELLED,
    CANCELLING,
    DENIED,
    EXPIRED,
    FAILED,
    QUEUED,
    RUNNING,
    STARTING,
    SUCCEEDED,
    WAITING,
)
from bot.errors import UserError


@dataclass(frozen=True, slots=True)
class Refresh:
    """Update the run's card where it was posted."""


@dataclass(frozen=True, slots=True)
class ReleaseLock:
    """Free the run lock of the run's service and environment."""


@dataclass(frozen=True, slots=True)
class Review:
    """A rollback ended: draft its review and post it beside the run."""


@dataclass(frozen=True, slots=True)
class Tell:
    """A catalogue text to the run's chats, threaded under its card."""

    key: str
    params: Mapping[str, object]


Event = Refresh | ReleaseLock | Review | Tell


@dataclass(frozen=True, slots=True)
class Run:
    """One row of the release ledger (`bot.store.tables.runs`), typed."""

    id: int
    action: str
    service: str
    environment: str
    version: str
    previous: str
    params: Mapping[str, str]
    dry_run: bool
    backend: str
    op_hash: str
    state: str
    priority: int
    requested_by: str
    reason: str
    incident_id: int | None
    destinations: tuple[str, ...]
    ref: Mapping[str, Any] | None
    url: str
    message: str
    log_tail: str
    progress: int | None
    verified: bool
    stage: str
    canary_weight: int
    parent_id: int | None
    due_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime

    # -- people's answers -------------------------------------------------------------------

    def confirm(self, who: str, now: datetime, *, needed: int, approval_ttl: timedelta) -> Change:
        """The requester confirms: the run waits for its approvals, or is queued."""
        self._require(AWAITING_CONFIRMATION)
        if who != self.requested_by:
            raise UserError("deploy.only_requester", user=self.requested_by)
        if needed:
            change = self._to(now, state=AWAITING_APPROVAL, due_at=now + approval_ttl)
            return change.answering("deploy.confirmed_approval")
        return self._to(now, state=QUEUED, due_at=now).answering("deploy.confirmed")

    def may_decide(self, who: str) -> None:
        """Refuse an approval or denial the run cannot take (late, or its requester's own)."""
        self._require(AWAITING_APPROVAL, AWAITING_CONFIRMATION)
        if who == self.requested_by:
            raise UserError("deploy.self_approval")

    def deny(self, who: str, now: datetime) -> Change:
        self.may_decide(who)
        change = self._to(
            now,
            state=DENIED,
            finished_at=now,
            due_at=None,
            message=said("deploy.msg.denied", user=who),
        )
        return change.answering("deploy.denied")

    def approve(self, who: str, now: datetime, *, enough: bool) -> Change:
        """One more approval; `enough` says the fresh approvals now meet the policy, which
        queues a run that was waiting for them (a run still to be confirmed keeps waiting)."""
        self.may_decide(who)
        if self.state == AWAITING_APPROVAL and enough:
            return self._to(now, state=QUEUED, due_at=now).answering("deploy.approved_queued")
        return Change(self, frozenset(), (Refresh(),), "deploy.approved_waiting")

    def cancel(self, who: str, now: datetime, *, may_deploy: bool) -> Change:
        """Its requester, or anyone who may deploy it, cancels: a waiting run ends at once, an
        active one is cancelled at its backend on the next poll."""
        self._require(*WAITING, *ACTIVE)
        if who != self.requested_by and not may_deploy:
            raise UserError("deploy.not_yours", user=self.requested_by)
        if self.state in WAITING:
            change = self._to(
                now,
                state=CANCELLED,
                finished_at=now,
                due_at=None,
                message=said("deploy.msg.cancelled", user=who),
            )
            return change.answering("deploy.cancelled")
        change = self._to(
            now, state=CANCELLING, due_at=now, message=said("deploy.msg.cancel_asked", user=who)
        )
        return change.answering("deploy.cancelling")

    # -- the engine's moves -----------------------------------------------------------------

    def lapse(self, now: datetime) -> Change:
        """Nobody confirmed or approved it in time."""
        self._require(AWAITING_CONFIRMATION, AWAITING_APPROVAL)
        what = "no_confirmation" if self.state == AWAITING_CONFIRMATION else "no_approval"
        return self._to(
            now, state=EXPIRED, finished_at=now, due_at=None, message=said(f"deploy.msg.{what}")
        )

    def approvals_lapsed(self, now: datetime, approval_ttl: timedelta) -> Change:
        """Queued, but its approvals grew stale before it could start: approve again."""
        self._require(QUEUED)
        return self._to(
            now,
            state=AWAITING_APPROVAL,
            due_at=now + approval_ttl,
            message=said("deploy.msg.approvals_lapsed"),
        )

    def wait(self, now: datetime, why: str, every: timedelta) -> Change:
        """It may not start yet (a lock): say why once, look again in `every`."""
        self._require(QUEUED)
        if self.message != why:
            return self._to(now, message=why)._also(due_at=now + every)
        return Change(self, frozenset(), ())._also(due_at=now + every)

    def claim(self, now: datetime, lease: datetime) -> Change:
        """This replica starts it (or takes over a dead replica's start) until `lease`. The card
        is not refreshed (nor `updated_at` moved) for this: it changes again at once, when the
        backend takes the run or refuses it."""
        del now
        self._require(QUEUED, STARTING)
        return Change(self, frozenset(), ())._also(state=STARTING, due_at=lease)

    def started(self, now: datetime, ref: Mapping[str, Any], url: str, every: timedelta) -> Change:
        """The backend took it; poll it in `every`."""
        self._require(STARTING)
        return self._to(
            now,
            state=RUNNING,
            started_at=now,
            ref=ref,
            url=url,
            message=said("deploy.msg.started"),
            due_at=now + every,
        )

    def polled(self, now: datetime, status: Mapping[str, Any], every: timedelta) -> Change:
        """The backend's word on a run still in progress (`status`: the columns it gives);
        the card changes only when what it shows does."""
        self._require(RUNNING, CANCELLING)
        if any(getattr(self, k) != v for k, v in status.items()):
            return self._to(now, **status, due_at=now + every)
        return Change(self, frozenset(), ())._also(**status, due_at=now + every)

    def retry(self, now: datetime, why: str, wait: timedelta) -> Change:
        """The backend could not be reached: try again in `wait` (a start goes back to the
        queue, so it needs the locks and a free slot again)."""
        self._require(*ACTIVE)
        state = QUEUED if self.state == STARTING else self.state
        return self._to(
            now, state=state, due_at=now + wait, message=said("deploy.msg.retrying", why=why[:200])
        )

    def opens_gate(self, state: str) -> bool:
        """Ending in `state` hands the run to its health gate, if its service has one."""
        return state == SUCCEEDED and not self.dry_run

    def end(
        self,
        now: datetime,
        state: str,
        status: Mapping[str, Any],
        message: str,
        *,
        gated: bool,
        watch: timedelta | None = None,
    ) -> Change:
        """The backend's run ended in `state` (`status`: the columns it gives, `message` its
        word for the chats). A real success is verified, unless it is a canary or `gated`
        (its health gate decides, for about `watch`): the chats are then told it is deployed
        and watched, not that it succeeded."""
        self._require(*ACTIVE)
        verified = state == SUCCEEDED and not self.dry_run and self.stage != CANARY
        change = self._to(
            now,
            **status,
            state=state,
            finished_at=now,
            due_at=None,
            verified=verified and not gated,
        )
        events: list[Event] = [ReleaseLock()]
        if self.action == "rollback" and not self.dry_run and state in (SUCCEEDED, FAILED):
            events.append(Review())
        params: dict[str, object] = {
            "id": self.id,
            "service": self.service,
            "environment": self.environment,
            "version": self.version,
            "message": message[:300],
        }
        key = f"deploy.ended.{self.action}.{state}"
        if self.dry_run and state == SUCCEEDED:
            key = "deploy.ended.dry"
        elif gated and state == SUCCEEDED and self.action == "deploy":
            key = "deploy.ended.gated"
            params["minutes"] = max(1, round((watch or timedelta(0)).total_seconds() / 60))
        events.append(Tell(key, params))
        return replace(change, events=(*change.events, *events))

    # -- one place for refusals -------------------------------------------------------------

    def _require(self, *states: str) -> None:
        if self.state not in states:
            raise UserError(f"deploy.already.{self.state}", id=self.id)

    def _to(self, now: datetime, **values: Any) -> Change:
        """A change people see: it is stamped `now` and refreshes the card."""
        return Change(self, frozenset(), (Refresh(),))._also(**values, updated_at=now)


@dataclass(frozen=True, slots=True)
class Change:
    """What a transition did: the run as it now is, the columns it wrote (the rest stand as
    they were in the database), what follows from it, and a press's answer."""

    run: Run
    columns: frozenset[str]
    events: tuple[Event, ...]
    answer: str = ""

    def answering(self, key: str) -> Change:
        return replace(self, answer=key)

    def _also(self, **values: Any) -> Change:
        return replace(
            self, run=replace(self.run, **values), columns=self.columns | frozenset(values)
        )

    @property
    def written(self) -> dict[str, Any]:
        """The columns to write, with their values."""
        return {name: getattr(self.run, name) for name in sorted(self.columns)}


def already(exc: UserError) -> str | None:
    """The answer to a late press that `_require` refused, None for any other refusal."""
    key = exc.text_key
    return key if key.startswith("deploy.already.") else None


__all__ = [
    "Change",
    "Event",
    "Refresh",
    "ReleaseLock",
    "Review",
    "Run",
    "Tell",
    "already",
]
