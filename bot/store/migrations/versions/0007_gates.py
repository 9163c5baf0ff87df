"""health gates: gate_runs and their measurements; rca_drafts; alert_rollbacks

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.tables import TS, Id

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gate_runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", Id, nullable=False),
        sa.Column("service", sa.String(128), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("after_rollback", sa.Boolean, nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("due_at", TS),
        sa.Column("decided_at", TS),
        sa.Column("rollback_run_id", Id),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gate_runs"),
    )
    op.create_index("ix_gate_runs_due", "gate_runs", ["state", "due_at"])
    op.create_index("ix_gate_runs_run", "gate_runs", ["run_id"])
    op.create_table(
        "gate_measurements",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("gate_run_id", Id, nullable=False),
        sa.Column("metric", sa.String(128), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("traffic", sa.Float),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gate_measurements"),
    )
    op.create_index(
        "ix_gate_measurements_gate", "gate_measurements", ["gate_run_id", "metric", "id"]
    )

    op.create_table(
        "rca_drafts",
        sa.Column("run_id", Id, nullable=False, autoincrement=False),
        sa.Column("incident_id", Id),
        sa.Column("markdown", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_rca_drafts"),
    )
    op.create_index("ix_rca_drafts_incident", "rca_drafts", ["incident_id"])
    op.create_table(
        "alert_rollbacks",
        sa.Column("incident_id", Id, nullable=False, autoincrement=False),
        sa.Column("run_id", Id),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("incident_id", name="pk_alert_rollbacks"),
    )


def downgrade() -> None:
    op.drop_table("alert_rollbacks")
    op.drop_table("rca_drafts")
    op.drop_table("gate_measurements")
    op.drop_table("gate_runs")
