"""`GateRun` is the `gate_runs` row, every column typed: a column added to the table without a
field here (or a field the table lost) fails at once instead of at the first gate."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from types import SimpleNamespace

from bot.gates.gate_run import GateRun
from bot.store.tables import gate_runs


def test_its_fields_are_the_tables_columns() -> None:
    assert [f.name for f in fields(GateRun)] == [c.name for c in gate_runs.columns]


def test_a_row_becomes_a_gate_run() -> None:
    now = datetime(2026, 1, 5, 3, tzinfo=UTC)
    values = {c.name: None for c in gate_runs.columns} | {
        "id": 3,
        "run_id": 9,
        "service": "orders",
        "environment": "prod",
        "version": "v2",
        "after_rollback": False,
        "mode": "auto",
        "state": "measuring",
        "started_at": now,
        "note": "",
    }
    gate = GateRun.of(SimpleNamespace(**values))
    assert (gate.id, gate.run_id, gate.state, gate.started_at, gate.due_at) == (
        3,
        9,
        "measuring",
        now,
        None,
    )
