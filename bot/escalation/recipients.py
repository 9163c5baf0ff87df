"""Who a step's targets mean at one moment, and why others are not paged (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.escalation.plan import Step
from bot.oncall import Override, on_call
from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class Recipient:
    kind: str
    """``user`` (a Tocsin user id) or ``chat`` (a destination such as ``slack:C024BE91L``)."""
    id: str
    via: str
    """The target that named them, with how: ``schedule:primary (weekday until …)``."""

    @property
    def key(self) -> str:
        return self.id if self.kind == "user" else f"chat:{self.id}"


@dataclass(slots=True)
class Resolution:
    recipients: list[Recipient] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    """Why-not entries: ``{"key": catalogue key, **params}``."""

    def add(self, recipient: Recipient) -> None:
        if all(r.key != recipient.key for r in self.recipients):
            self.recipients.append(recipient)


def resolve(
    step: Step,
    settings: Settings,
    now: datetime,
    overrides: Mapping[str, Sequence[Override]],
    turn: int | None = None,
    *,
    also: Sequence[str] = (),
) -> Resolution:
    """The people and chats `step` pages at `now`. `turn` picks one person for round robin;
    the targets in `also` (a plan's responders) are paged whatever it picked."""
    found = Resolution()
    for target in step.targets:
        _target(found, target, settings, now, overrides)
    if step.round_robin and turn is not None:
        people = [r for r in found.recipients if r.kind == "user"]
        if len(people) > 1:
            chosen = people[turn % len(people)]
            skipped = [r.id for r in people if r is not chosen]
            found.recipients = [r for r in found.recipients if r.kind == "chat" or r is chosen]
            found.notes.append({"key": "why.round_robin", "chosen": chosen.id, "users": skipped})
    for target in also:
        _target(found, target, settings, now, overrides)
    return found


def _target(
    found: Resolution,
    target: str,
    settings: Settings,
    now: datetime,
    overrides: Mapping[str, Sequence[Override]],
) -> None:
    kind, _, name = target.partition(":")
    if kind == "user":
        found.add(Recipient("user", name, target))
    elif kind == "group":
        for member in settings.groups.get(name, ()):
            found.add(Recipient("user", member, target))
    elif kind == "chat":
        found.add(Recipient("chat", name, target))
    elif kind == "owner":
        _owner(found, target, name, settings)
    else:
        _schedule(found, target, name, settings, now, overrides.get(name, ()))


def _owner(found: Resolution, target: str, service: str, settings: Settings) -> None:
    """``owner:<service>``: the service's owner as the settings name them now."""
    spec = settings.services.get(service)
    if spec is None or not spec.owner:
        found.notes.append({"key": "why.unknown_user", "user": target})
        return
    found.add(Recipient("user", spec.owner, target))


def _schedule(
    found: Resolution,
    target: str,
    name: str,
    settings: Settings,
    now: datetime,
    overrides: Sequence[Override],
) -> None:
    schedule = settings.schedules.get(name)
    if schedule is None:
        found.notes.append({"key": "why.unknown_schedule", "schedule": name})
        return
    segment = on_call(schedule, now, overrides)
    everyone = sorted({p for r in schedule.rotations for p in r.participants})
    if segment is None or segment.user is None:
        found.notes.append({"key": "why.nobody_on_call", "schedule": name})
        return
    until = segment.end.strftime("%Y-%m-%d %H:%M UTC")
    found.add(Recipient("user", segment.user, f"{target} ({segment.source} → {until})"))
    others = [p for p in everyone if p != segment.user]
    if others:
        found.notes.append(
            {"key": "why.not_on_call", "schedule": name, "users": others, "user": segment.user}
        )
