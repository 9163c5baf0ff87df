"""deploys: the release ledger (runs), approvals and locks

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.tables import TS, Id

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("service", sa.String(128), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("previous", sa.String(128), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("backend", sa.String(128), nullable=False),
        sa.Column("op_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("incident_id", Id),
        sa.Column("destinations", sa.JSON, nullable=False),
        sa.Column("ref", sa.JSON),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("log_tail", sa.Text, nullable=False),
        sa.Column("progress", sa.Integer),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("due_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_target", "runs", ["service", "environment", "id"])
    op.create_index("ix_runs_state_due", "runs", ["state", "due_at"])
    op.create_table(
        "run_approvals",
        sa.Column("run_id", Id, nullable=False, autoincrement=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("op_hash", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "user_id", name="pk_run_approvals"),
    )
    op.create_table(
        "locks",
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("sticky", sa.Boolean, nullable=False),
        sa.Column("run_id", Id),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("scope", name="pk_locks"),
    )


def downgrade() -> None:
    for table in ("locks", "run_approvals", "runs"):
        op.drop_table(table)
