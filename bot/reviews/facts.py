"""What a review is made of, as stored: the rollback, the release it undid, the health gate's
measurements, the incident and who pressed what. Facts carry no language; the card is made from
them for each reader (`bot.reviews.card`), so they are kept as JSON beside the draft.

A field holds a time when it is named ``at`` or ends in ``_at`` (stored as ISO 8601)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

VERSION = 1
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RunFact:
    id: int
    action: str
    version: str
    previous: str
    state: str
    requested_by: str
    """The person's name as the directory knows it, or ``tocsin``."""
    backend: str
    stage: str
    canary_weight: int
    url: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class GateFact:
    run_id: int
    state: str
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class Measured:
    run_id: int
    metric: str
    at: datetime
    value: float | None
    outcome: str
    """``success``, ``failure``, ``inconclusive`` or ``error`` (`bot.gates.analysis`)."""
    note: str


@dataclass(frozen=True, slots=True)
class IncidentFact:
    id: int
    tier: str
    title: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Acted:
    """One audit entry about the runs or the incident: a button pressed, refused or failed."""

    at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    error: str = ""
    """What went wrong, when it did: a catalogue key (``auth.denied``) or an exception's name."""


@dataclass(frozen=True, slots=True)
class Facts:
    service: str
    environment: str
    owner: str
    rollback: RunFact
    bad: RunFact | None
    reason: str
    """The rollback's reason as recorded (said when nothing better explains it)."""
    drill: int | None
    """The drill whose bad release this rollback undid: the review is a drill report."""
    gates: tuple[GateFact, ...] = ()
    measurements: tuple[Measured, ...] = ()
    incident: IncidentFact | None = None
    acted: tuple[Acted, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = _plain(self)
        assert isinstance(data, dict)
        return {"v": VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Facts:
        bad, incident = data.get("bad"), data.get("incident")
        return cls(
            service=data["service"],
            environment=data["environment"],
            owner=data["owner"],
            rollback=_flat(RunFact, data["rollback"]),
            bad=_flat(RunFact, bad) if bad else None,
            reason=data["reason"],
            drill=data.get("drill"),
            gates=tuple(_flat(GateFact, g) for g in data.get("gates", ())),
            measurements=tuple(_flat(Measured, m) for m in data.get("measurements", ())),
            incident=_flat(IncidentFact, incident) if incident else None,
            acted=tuple(_flat(Acted, a) for a in data.get("acted", ())),
        )


def _is_time(name: str) -> bool:
    return name == "at" or name.endswith("_at")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def _flat(cls: type[T], data: dict[str, Any]) -> T:
    """A dataclass of plain fields (and times) from its JSON."""
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name not in data:  # written before the field was: its default
            continue
        raw = data[f.name]
        values[f.name] = datetime.fromisoformat(raw) if _is_time(f.name) and raw else raw
    return cls(**values)
