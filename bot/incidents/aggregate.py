"""The incident and every way it may change, in one place.

`Incident` is the stored incident as a frozen value. Each transition is a pure method taking
`now` (and who acted): it returns a `Transition` (the incident before and after, and the events
the change asks for) or refuses with a typed error, so what is legal is decided here and nowhere
else. Refusals a person can meet are `UserError`s worded from the catalogue, exactly as the
person is answered; refusals only a pass of the engine could meet (it selects due incidents, so
it never should) are plain `CommandError`s.

    triggered ──ack──► acknowledged ──resolve──► resolved
        ▲   ◄──unack / ack expires──┘               │
        └──────── an alert fires again ─────────────┘ (within the reopen window)

Silencing is orthogonal (any open status, until a time); flapping holds an incident open
while its alerts come and go, until they keep still for a window.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.errors import CommandError, UserError
from bot.incidents.events import (
    Announce,
    Event,
    RefreshCard,
    RefreshCardAt,
)
from bot.incidents.status import Status
from bot.model import Tier

MONITORING = "monitoring"
"""Who resolved an incident whose alerts all stopped firing."""


@dataclass(frozen=True, slots=True)
class Transition:
    """A change decided: the incident `before` and `after`, and what it asks the world to do.
    `after is before` when the transition changed no column (an escalation asked for)."""

    before: Incident
    after: Incident
    events: tuple[Event, ...] = ()

    @property
    def changed(self) -> bool:
        return self.after is not self.before


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    group_key: str
    route: str
    tier: Tier
    title: str
    status: Status
    created_at: datetime
    updated_at: datetime
    summary: str = ""
    service: str = ""
    environment: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    destinations: tuple[str, ...] = ()
    page_destinations: tuple[str, ...] = ()
    silenced_until: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    acked_via: str | None = None
    """How: a chat platform (``slack``), ``sms_reply``, ``voice_key`` or ``link:<channel>``."""
    ack_expires_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    flapping: bool = False
    firing_count: int = 0
    alert_count: int = 0
    version: int = 1
    card_due_at: datetime | None = None
    triggered_at: datetime | None = None

    # -- what people do ---------------------------------------------------------------------

    def acknowledge(
        self, who: str, now: datetime, timeout: timedelta | None, via: str | None = None
    ) -> Transition:
        """Someone is on it (`via`: how they said so); with a `timeout`, the acknowledgement
        lapses after it."""
        self._refuse_resolved()
        if self.status == Status.ACKNOWLEDGED:
            raise UserError("incident.already_acked", id=self.id, user=self.acked_by)
        after = self._next(
            now,
            status=Status.ACKNOWLEDGED,
            acked_by=who,
            acked_at=now,
            acked_via=via,
            ack_expires_at=now + timeout if timeout else None,
        )
        return Transition(self, after, (RefreshCard(),))

    def unacknowledge(self, who: str, now: datetime) -> Transition:
        """Released by whoever held it: a new triggered episode, paged from the first step."""
        if self.status != Status.ACKNOWLEDGED:
            raise UserError("incident.not_acked", id=self.id)
        return Transition(self, self._retriggered(now), (RefreshCard(),))

    def silence(self, who: str, now: datetime, duration: timedelta) -> Transition:
        """Mute the incident until `now + duration` (a later silence replaces an earlier)."""
        self._refuse_resolved()
        after = self._next(now, silenced_until=now + duration)
        return Transition(self, after, (RefreshCard(),))

    def unsilence(self, who: str, now: datetime) -> Transition:
        """Lift a running silence before its time: the card shows the live status again and
        escalation, held while silenced, goes on."""
        self._refuse_resolved()
        if self.silenced_until is None or self.silenced_until <= now:
            raise UserError("incident.not_silenced", id=self.id)
        return Transition(self, self._next(now, silenced_until=None), (RefreshCard(),))

    def resolve(self, who: str, now: datetime) -> Transition:
        """Closed by a person (or by `MONITORING`): timers of every kind stop with it."""
        self._refuse_resolved()
        return Transition(self, self._resolved(who, now), (RefreshCard(),))

    def escalate(self) -> Transition:
        """Ask for the next escalation step now; only a triggered incident escalates."""
        if self.status != Status.TRIGGERED:
            raise UserError("escalation.not_triggered", id=self.id)
        return Transition(self, self)

    # -- what time does ---------------------------------------------------------------------

    def expire_ack(self, now: datetime) -> Transition:
        """The acknowledgement lapsed: triggered again, and its chats are told whose it was."""
        if self.status != Status.ACKNOWLEDGED:
            raise UserError("incident.not_acked", id=self.id)
        if self.ack_expires_at is None or self.ack_expires_at > now:
            raise CommandError(f"incident #{self.id}: its acknowledgement has not expired")
        announce = Announce("incident.ack_expired", {"id": self.id, "user": self.acked_by})
        return Transition(self, self._retriggered(now), (RefreshCard(), announce))

    def end_silence(self, now: datetime) -> Transition:
        """The silence ran out: the card shows the live status, and a still-firing incident's
        chats hear of it again."""
        self._refuse_resolved()
        if self.silenced_until is None or self.silenced_until > now:
            raise CommandError(f"incident #{self.id}: no silence has run out")
        events: tuple[Event, ...] = (RefreshCard(),)
        if self.firing_count > 0:
            events += (Announce("incident.silence_ended", {"id": self.id}),)
        return Transition(self, self._next(now, silenced_until=None), events)

    def settle_flapping(self, now: datetime, window: timedelta) -> Transition:
        """Alerts that kept still for `window` end the flapping; if none fires, it resolves."""
        self._refuse_resolved()
        if not self.flapping or self.updated_at > now - window:
            raise CommandError(f"incident #{self.id}: not a flapping incident gone quiet")
        if self.firing_count <= 0:
            after = replace(self._resolved(MONITORING, now), flapping=False)
            return Transition(self, after, (RefreshCard(),))
        return Transition(self, self._next(now, flapping=False), (RefreshCard(),))

    # -- what alerts do ---------------------------------------------------------------------

    def observe(
        self,
        now: datetime,
        *,
        firing: int,
        alerts: int,
        tier: Tier,
        card_delay: timedelta,
        flapping_seen: bool = False,
        reopen: bool = False,
        new: bool = False,
    ) -> Transition:
        """Alerts of the group changed: `firing` of its `alerts` fire now, at `tier`.

        A resolved incident whose group fires again is re-opened when `reopen` (it was resolved
        within the window); one with nothing firing resolves, unless it flaps
        (`flapping_seen`: an alert changed too often lately). A change that leaves status, tier
        and flapping as they were refreshes the cards a moment later, so a burst of alerts
        edits a card once.
        """
        flapping = flapping_seen or self.flapping
        after = self._next(
            now,
            firing_count=max(firing, 0),
            alert_count=alerts,
            tier=tier,
            flapping=flapping,
        )
        events: tuple[Event, ...] = ()
        if reopen and firing > 0 and self.status == Status.RESOLVED:
            after = replace(after, **_retriggered_values(now))
            if not flapping:
                events = (Announce("incident.retriggered", {"id": self.id}),)
        elif firing <= 0 and self.status != Status.RESOLVED and not flapping:
            after = replace(after, **_resolved_values(MONITORING, now))
        minor = not new and after.status == self.status and tier == self.tier and not flapping_seen
        if minor:
            due = self.card_due_at or now + card_delay
            return Transition(self, replace(after, card_due_at=due), (RefreshCardAt(due),))
        return Transition(self, after, (RefreshCard(), *events))

    # -- helpers ----------------------------------------------------------------------------

    def _refuse_resolved(self) -> None:
        if self.status == Status.RESOLVED:
            raise UserError("incident.already_resolved", id=self.id)

    def _next(self, now: datetime, **values: Any) -> Incident:
        """The incident after one change: every change is stamped and bumps the version."""
        return replace(self, **values, updated_at=now, version=self.version + 1)

    def _retriggered(self, now: datetime) -> Incident:
        return self._next(now, **_retriggered_values(now))

    def _resolved(self, who: str, now: datetime) -> Incident:
        return self._next(now, **_resolved_values(who, now))


def _retriggered_values(now: datetime) -> dict[str, Any]:
    """Triggered again, from scratch: a new episode that escalation pages from its start."""
    return {
        "status": Status.TRIGGERED,
        "resolved_at": None,
        "resolved_by": None,
        "acked_by": None,
        "acked_at": None,
        "acked_via": None,
        "ack_expires_at": None,
        "triggered_at": now,
    }


def _resolved_values(who: str, now: datetime) -> dict[str, Any]:
    """Resolved: a running silence or acknowledgement expiry has nothing left to end."""
    return {
        "status": Status.RESOLVED,
        "resolved_by": who,
        "resolved_at": now,
        "silenced_until": None,
        "ack_expires_at": None,
    }
