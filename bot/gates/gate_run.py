"""A health gate's analysis of one run, as the gate runner and the run's card read it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class GateRun:
    """One row of `bot.store.tables.gate_runs`, typed. Its state moves only through
    `bot.gates.runner.GateRunner`, under the lease of the pass that claimed it."""

    id: int
    run_id: int
    service: str
    environment: str
    version: str
    after_rollback: bool
    mode: str
    state: str
    """measuring · countdown · held · passed · failed · inconclusive · rolled_back · promoted"""
    started_at: datetime
    due_at: datetime | None
    decided_at: datetime | None
    rollback_run_id: int | None
    promote_run_id: int | None
    note: str

    @classmethod
    def of(cls, row: Any) -> GateRun:
        """The gate run a full `gate_runs` row (as selected or returned) stores."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})
