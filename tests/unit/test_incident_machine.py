"""Hypothesis drives random sequences of an incident's transitions (people, time and alerts)
against a small reference model: legal ones must land where the model says, with the right
events and one version more; illegal ones must refuse with a typed error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bot.errors import CommandError, UserError
from bot.incidents.aggregate import MONITORING, Incident, Transition
from bot.incidents.events import (
    Announce,
    RefreshCard,
    RefreshCardAt,
)
from bot.incidents.repository import changed_columns
from bot.incidents.status import Status
from bot.model import Tier

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FLAP_WINDOW = timedelta(minutes=30)
CARD_DELAY = timedelta(seconds=5)
PEOPLE = st.sampled_from(["alice", "bob", "chen"])
TIMEOUTS = st.sampled_from([None, timedelta(minutes=5), timedelta(hours=1)])
MINUTES = st.integers(min_value=1, max_value=120).map(lambda m: timedelta(minutes=m))


@dataclass
class Model:
    """What the incident should be: only the facts the rules decide."""

    status: Status = Status.TRIGGERED
    acked_by: str | None = None
    ack_expires_at: datetime | None = None
    silenced_until: datetime | None = None
    firing: int = 1
    flapping: bool = False
    version: int = 1
    updated_at: datetime = START


def fresh() -> Incident:
    return Incident(
        id=7,
        group_key="api|errors",
        route="api",
        tier=Tier.P2,
        title="High error rate",
        status=Status.TRIGGERED,
        created_at=START,
        updated_at=START,
        destinations=("console:ops",),
        firing_count=1,
        alert_count=1,
        triggered_at=START,
    )


class IncidentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.incident = fresh()
        self.model = Model()

    # -- running a transition against the model ----------------------------------------------

    def attempt(self, legal: bool, act: object) -> Transition | None:
        """Run `act`; a legal one must succeed, an illegal one refuse and leave all as it was."""
        before = self.incident
        assert callable(act)
        if not legal:
            with pytest.raises(CommandError):
                act()
            assert self.incident is before
            return None
        change = act()
        assert isinstance(change, Transition)
        assert change.before is before
        if change.changed:
            assert change.after.version == before.version + 1
            assert change.after.updated_at == self.now
            self.model.version += 1
            self.model.updated_at = self.now
            assert "version" not in changed_columns(before, change.after)
        self.incident = change.after
        self.check_new_episode(change)
        return change

    def check_new_episode(self, change: Transition) -> None:
        old, new = change.before.status, change.after.status
        started = new == Status.TRIGGERED and old != Status.TRIGGERED
        if started:
            assert change.after.triggered_at == self.now

    def observe(self, firing: int, tier: Tier, flapping_seen: bool, reopen: bool) -> None:
        model, before = self.model, self.incident
        flapping = flapping_seen or model.flapping
        reopened = reopen and firing > 0 and model.status == Status.RESOLVED
        if reopened:
            model.status, model.acked_by, model.ack_expires_at = Status.TRIGGERED, None, None
        elif firing <= 0 and model.status != Status.RESOLVED and not flapping:
            model.status, model.silenced_until, model.ack_expires_at = Status.RESOLVED, None, None
        model.firing, model.flapping = max(firing, 0), flapping
        change = self.attempt(
            True,
            lambda: before.observe(
                self.now,
                firing=firing,
                alerts=before.alert_count + 1,
                tier=tier,
                card_delay=CARD_DELAY,
                flapping_seen=flapping_seen,
                reopen=reopen,
            ),
        )
        assert change is not None
        minor = model.status == before.status and tier == before.tier and not flapping_seen
        if minor:
            due = before.card_due_at or self.now + CARD_DELAY
            assert change.events == (RefreshCardAt(due),)
            assert change.after.card_due_at == due
        else:
            assert change.events[0] == RefreshCard()
        announced = Announce("incident.retriggered", {"id": before.id}) in change.events
        assert announced == (reopened and not flapping)
        if model.status == Status.RESOLVED and before.status != Status.RESOLVED:
            assert change.after.resolved_by == MONITORING

    # -- rules -------------------------------------------------------------------------------

    @rule(step=MINUTES)
    def time_passes(self, step: timedelta) -> None:
        self.now += step

    @rule(reopen=st.booleans(), flapping_seen=st.booleans())
    def an_alert_fires(self, reopen: bool, flapping_seen: bool) -> None:
        firing = self.incident.firing_count + 1
        self.observe(firing, self.incident.tier, flapping_seen, reopen)

    @rule(flapping_seen=st.booleans())
    def an_alert_stops(self, flapping_seen: bool) -> None:
        firing = self.incident.firing_count - 1
        self.observe(firing, self.incident.tier, flapping_seen, reopen=False)

    @rule(tier=st.sampled_from(list(Tier)))
    def the_tier_changes(self, tier: Tier) -> None:
        self.observe(self.incident.firing_count, tier, flapping_seen=False, reopen=False)

    @rule(who=PEOPLE, timeout=TIMEOUTS)
    def acknowledge(self, who: str, timeout: timedelta | None) -> None:
        legal = self.model.status == Status.TRIGGERED
        if legal:
            self.model.status, self.model.acked_by = Status.ACKNOWLEDGED, who
            self.model.ack_expires_at = self.now + timeout if timeout else None
        self.attempt(legal, lambda: self.incident.acknowledge(who, self.now, timeout))

    @rule(who=PEOPLE)
    def unacknowledge(self, who: str) -> None:
        legal = self.model.status == Status.ACKNOWLEDGED
        if legal:
            self.model.status, self.model.acked_by, self.model.ack_expires_at = (
                Status.TRIGGERED,
                None,
                None,
            )
        self.attempt(legal, lambda: self.incident.unacknowledge(who, self.now))

    @rule()
    def the_ack_expires(self) -> None:
        model = self.model
        due = model.ack_expires_at is not None and model.ack_expires_at <= self.now
        legal = model.status == Status.ACKNOWLEDGED and due
        holder = model.acked_by
        if legal:
            model.status, model.acked_by, model.ack_expires_at = Status.TRIGGERED, None, None
        change = self.attempt(legal, lambda: self.incident.expire_ack(self.now))
        if change is not None:
            told = Announce("incident.ack_expired", {"id": self.incident.id, "user": holder})
            assert told in change.events

    @rule(who=PEOPLE, duration=MINUTES)
    def silence(self, who: str, duration: timedelta) -> None:
        legal = self.model.status != Status.RESOLVED
        if legal:
            self.model.silenced_until = self.now + duration
        change = self.attempt(legal, lambda: self.incident.silence(who, self.now, duration))
        if change is not None:
            assert change.after.silenced_until is not None
            assert change.after.silenced_until > self.now
            assert change.events == (RefreshCard(),)

    @rule()
    def the_silence_ends(self) -> None:
        model = self.model
        until = model.silenced_until
        legal = model.status != Status.RESOLVED and until is not None and until <= self.now
        if legal:
            model.silenced_until = None
        change = self.attempt(legal, lambda: self.incident.end_silence(self.now))
        if change is not None:
            told = Announce("incident.silence_ended", {"id": self.incident.id}) in change.events
            assert told == (model.firing > 0)

    @rule(who=PEOPLE)
    def resolve(self, who: str) -> None:
        legal = self.model.status != Status.RESOLVED
        if legal:
            self.model.status, self.model.silenced_until = Status.RESOLVED, None
            self.model.ack_expires_at = None
        change = self.attempt(legal, lambda: self.incident.resolve(who, self.now))
        if change is not None:
            assert change.after.resolved_by == who

    @rule()
    def the_flapping_settles(self) -> None:
        model = self.model
        quiet = model.updated_at <= self.now - FLAP_WINDOW
        legal = model.flapping and model.status != Status.RESOLVED and quiet
        if legal:
            model.flapping = False
            if model.firing <= 0:
                model.status, model.silenced_until, model.ack_expires_at = (
                    Status.RESOLVED,
                    None,
                    None,
                )
        self.attempt(legal, lambda: self.incident.settle_flapping(self.now, FLAP_WINDOW))

    @rule()
    def escalate(self) -> None:
        legal = self.model.status == Status.TRIGGERED
        change = self.attempt(legal, self.incident.escalate)
        if change is not None:
            assert not change.changed
            assert change.events == ()

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def matches_the_model(self) -> None:
        incident, model = self.incident, self.model
        assert incident.status == model.status
        assert incident.acked_by == model.acked_by
        assert incident.ack_expires_at == model.ack_expires_at
        assert incident.silenced_until == model.silenced_until
        assert incident.firing_count == model.firing
        assert incident.flapping == model.flapping
        assert incident.version == model.version

    @invariant()
    def each_status_carries_its_facts(self) -> None:
        incident = self.incident
        if incident.status == Status.RESOLVED:
            assert incident.resolved_at is not None and incident.resolved_by
            assert incident.silenced_until is None and incident.ack_expires_at is None
        else:
            assert incident.resolved_at is None and incident.resolved_by is None
        if incident.status == Status.ACKNOWLEDGED:
            assert incident.acked_by and incident.acked_at is not None
        if incident.status == Status.TRIGGERED:
            assert incident.acked_by is None and incident.acked_at is None
            assert incident.triggered_at is not None


IncidentMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_incident_machine = IncidentMachine.TestCase


def test_refusals_are_catalogue_texts_naming_the_incident() -> None:
    """What the person pressing a button is told comes from the refusal itself."""
    acked = fresh().acknowledge("alice", START, None).after
    with pytest.raises(UserError) as refused:
        acked.acknowledge("bob", START, None)
    assert refused.value.text_key == "incident.already_acked"
    assert refused.value.text_params == {"id": 7, "user": "alice"}
    resolved = acked.resolve("bob", START).after
    for act in (
        lambda: resolved.acknowledge("bob", START, None),
        lambda: resolved.silence("bob", START, timedelta(minutes=5)),
        lambda: resolved.resolve("bob", START),
    ):
        with pytest.raises(UserError) as refused:
            act()
        assert refused.value.text_key == "incident.already_resolved"
        assert refused.value.text_params == {"id": 7}
    with pytest.raises(UserError) as refused:
        fresh().unacknowledge("bob", START)
    assert refused.value.text_key == "incident.not_acked"
