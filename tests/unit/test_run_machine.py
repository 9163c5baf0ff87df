"""Hypothesis drives random sequences of a deploy run's transitions (people's presses and the
engine's moves, as time passes) against a small reference model: legal ones must land where the
model says and refresh the card once when they show; illegal ones must refuse with the answer a
late press gets, or the person's own refusal, and change nothing."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bot.deploys.ops import (
    ACTIVE,
    AWAITING_APPROVAL,
    AWAITING_CONFIRMATION,
    CANARY,
    CANCELLED,
    CANCELLING,
    DENIED,
    ENDED,
    EXPIRED,
    FAILED,
    QUEUED,
    RUNNING,
    STARTING,
    SUCCEEDED,
    WAITING,
)
from bot.deploys.run import Change, Refresh, ReleaseLock, Review, Run, Tell, already
from bot.errors import UserError
from bot.store.tables import runs

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TTL = timedelta(minutes=30)
EVERY = timedelta(seconds=5)
PEOPLE = st.sampled_from(["alice", "bob", "chen"])
MINUTES = st.integers(min_value=1, max_value=90).map(lambda m: timedelta(minutes=m))
WHYS = st.sampled_from(["locked by bob: freeze", "waiting for run #3"])
STATUSES = st.fixed_dictionaries(
    {"message": st.sampled_from(["", "rolling", "half way"])},
    optional={"progress": st.integers(0, 100), "url": st.sampled_from(["https://ci/1"])},
)


def fresh(state: str = AWAITING_CONFIRMATION, **also: object) -> Run:
    run = Run(
        id=7,
        action="deploy",
        service="orders",
        environment="prod",
        version="v1.4.2",
        previous="v1.4.1",
        params={},
        dry_run=False,
        backend="fake",
        op_hash="0" * 64,
        state=state,
        priority=0,
        requested_by="alice",
        reason="",
        incident_id=None,
        destinations=("console:ops",),
        ref=None,
        url="",
        message="",
        log_tail="",
        progress=None,
        verified=False,
        stage="",
        canary_weight=0,
        parent_id=None,
        due_at=START + timedelta(minutes=2),
        created_at=START,
        started_at=None,
        finished_at=None,
        updated_at=START,
    )
    return replace(run, **also)  # type: ignore[arg-type]


@dataclass
class Model:
    """What the run should be: only the facts the rules decide."""

    state: str = AWAITING_CONFIRMATION
    verified: bool = False


class RunMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.run = fresh()
        self.model = Model()
        self.last: Change | None = None

    def attempt(self, legal: bool, act: object, *, shows: bool = True) -> Change | None:
        """Run `act`; a legal move must succeed (refreshing the card once when it `shows`), an
        illegal one refuse and leave the run as it was."""
        assert callable(act)
        before = self.run
        if not legal:
            with pytest.raises(UserError):
                act()
            assert self.run is before
            return None
        change: Change = act()
        refreshes = sum(isinstance(e, Refresh) for e in change.events)
        assert refreshes == (1 if shows else 0)
        untouched = {f.name for f in fields(Run)} - change.columns
        assert all(getattr(change.run, n) == getattr(before, n) for n in untouched)
        if change.columns:
            assert ("updated_at" in change.columns) == shows
        self.run, self.last = change.run, change
        return change

    # -- time -----------------------------------------------------------------------------

    @rule(step=MINUTES)
    def time_passes(self, step: timedelta) -> None:
        self.now += step

    # -- people ---------------------------------------------------------------------------

    @rule(who=PEOPLE, needed=st.integers(0, 2))
    def confirm(self, who: str, needed: int) -> None:
        run, now = self.run, self.now
        if run.state == AWAITING_CONFIRMATION and who != run.requested_by:
            with pytest.raises(UserError, match=r"deploy\.only_requester"):
                run.confirm(who, now, needed=needed, approval_ttl=TTL)
            return
        legal = run.state == AWAITING_CONFIRMATION
        if self.attempt(legal, lambda: run.confirm(who, now, needed=needed, approval_ttl=TTL)):
            self.model.state = AWAITING_APPROVAL if needed else QUEUED
            assert self.run.due_at == (now + TTL if needed else now)

    @rule(who=PEOPLE, approve=st.booleans(), enough=st.booleans())
    def decide(self, who: str, approve: bool, enough: bool) -> None:
        run, now = self.run, self.now
        waiting = run.state in (AWAITING_APPROVAL, AWAITING_CONFIRMATION)
        if waiting and who == run.requested_by:
            with pytest.raises(UserError, match=r"deploy\.self_approval"):
                run.approve(who, now, enough=enough) if approve else run.deny(who, now)
            return
        if not approve:
            if self.attempt(waiting, lambda: run.deny(who, now)):
                self.model.state = DENIED
                assert self.run.message == f"denied by {who}"
            return
        queues = run.state == AWAITING_APPROVAL and enough
        if self.attempt(waiting, lambda: run.approve(who, now, enough=enough)) and queues:
            self.model.state = QUEUED

    @rule(who=PEOPLE, may=st.booleans())
    def cancel(self, who: str, may: bool) -> None:
        run, now = self.run, self.now
        if run.state not in ENDED and who != run.requested_by and not may:
            with pytest.raises(UserError, match=r"deploy\.not_yours"):
                run.cancel(who, now, may_deploy=may)
            return
        if self.attempt(run.state not in ENDED, lambda: run.cancel(who, now, may_deploy=may)):
            self.model.state = CANCELLED if run.state in WAITING else CANCELLING

    # -- the engine -----------------------------------------------------------------------

    @rule()
    def lapse(self) -> None:
        run, now = self.run, self.now
        legal = run.state in (AWAITING_CONFIRMATION, AWAITING_APPROVAL)
        if self.attempt(legal, lambda: run.lapse(now)):
            self.model.state = EXPIRED

    @rule()
    def approvals_lapse(self) -> None:
        run, now = self.run, self.now
        if self.attempt(run.state == QUEUED, lambda: run.approvals_lapsed(now, TTL)):
            self.model.state = AWAITING_APPROVAL

    @rule(why=WHYS)
    def wait(self, why: str) -> None:
        run, now = self.run, self.now
        shows = run.message != why
        if self.attempt(run.state == QUEUED, lambda: run.wait(now, why, EVERY), shows=shows):
            assert self.run.due_at == now + EVERY and self.run.message == why

    @rule()
    def claim(self) -> None:
        run, now = self.run, self.now
        legal = run.state in (QUEUED, STARTING)
        if self.attempt(legal, lambda: run.claim(now, now + EVERY), shows=False):
            self.model.state = STARTING

    @rule()
    def started(self) -> None:
        run, now = self.run, self.now
        ref = {"id": "42", "url": "", "data": {}}
        if self.attempt(run.state == STARTING, lambda: run.started(now, ref, "", EVERY)):
            self.model.state = RUNNING
            assert self.run.started_at == now

    @rule(status=STATUSES)
    def polled(self, status: dict[str, object]) -> None:
        run, now = self.run, self.now
        shows = any(getattr(run, k) != v for k, v in status.items())
        legal = run.state in (RUNNING, CANCELLING)
        self.attempt(legal, lambda: run.polled(now, status, EVERY), shows=shows)

    @rule(wait=MINUTES)
    def retry(self, wait: timedelta) -> None:
        run, now = self.run, self.now
        if self.attempt(run.state in ACTIVE, lambda: run.retry(now, "503", wait)):
            self.model.state = QUEUED if run.state == STARTING else run.state

    @rule(state=st.sampled_from([SUCCEEDED, FAILED, CANCELLED]), gated=st.booleans())
    def end(self, state: str, gated: bool) -> None:
        run, now = self.run, self.now
        change = self.attempt(
            run.state in ACTIVE,
            lambda: run.end(now, state, {"message": "done"}, "done", gated=gated),
        )
        if change is None:
            return
        self.model.state = state
        self.model.verified = state == SUCCEEDED and run.stage != CANARY and not gated
        kinds = [type(e) for e in change.events]
        assert kinds[0] is Refresh and ReleaseLock in kinds and kinds[-1] is Tell
        assert Review not in kinds  # a deploy, not a rollback

    # -- what must always hold ------------------------------------------------------------

    @invariant()
    def matches_the_model(self) -> None:
        assert self.run.state == self.model.state
        assert self.run.verified == self.model.verified

    @invariant()
    def a_finished_run_has_finished_at_and_nothing_due(self) -> None:
        if self.run.state in ENDED:
            assert self.run.finished_at is not None and self.run.due_at is None
        else:
            assert self.run.finished_at is None and self.run.due_at is not None


RunMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_run_machine = RunMachine.TestCase


def test_a_late_press_is_answered_with_the_state_it_found() -> None:
    """What a person pressing a stale button is told names the state the run is in."""
    with pytest.raises(UserError) as refused:
        fresh(SUCCEEDED, finished_at=START, due_at=None).confirm(
            "alice", START, needed=0, approval_ttl=TTL
        )
    assert already(refused.value) == "deploy.already.succeeded"
    assert refused.value.text_params == {"id": 7}


def test_a_person_refusal_is_not_a_late_press() -> None:
    with pytest.raises(UserError) as refused:
        fresh().confirm("bob", START, needed=0, approval_ttl=TTL)
    assert already(refused.value) is None


def test_an_ended_rollback_is_reviewed_before_the_chats_are_told() -> None:
    run = fresh(RUNNING, action="rollback", started_at=START)
    change = run.end(START, FAILED, {"message": "boom"}, "boom", gated=False)
    assert [type(e) for e in change.events] == [Refresh, ReleaseLock, Review, Tell]
    tell = change.events[-1]
    assert isinstance(tell, Tell) and tell.key == "deploy.ended.rollback.failed"
    assert not change.run.verified


def test_a_canary_that_succeeds_is_not_verified_by_itself() -> None:
    run = fresh(RUNNING, stage=CANARY, started_at=START)
    assert run.opens_gate(SUCCEEDED) and not fresh(RUNNING, dry_run=True).opens_gate(SUCCEEDED)
    assert not run.end(START, SUCCEEDED, {}, "", gated=False).run.verified


def test_a_run_has_a_field_for_each_column_of_the_ledger() -> None:
    assert [f.name for f in fields(Run)] == list(runs.c.keys())
