"""maintenance_windows, and the window an incident's episode was triggered in

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.tables import TS, Id

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "maintenance_windows",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("service", sa.String(128), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("run_id", Id),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS),
        sa.Column("ended_at", TS),
        sa.Column("ended_by", sa.String(64)),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index(
        "ix_maintenance_windows_target",
        "maintenance_windows",
        ["service", "environment", "starts_at"],
    )
    op.create_index("ix_maintenance_windows_ends", "maintenance_windows", ["ends_at"])
    op.create_index(
        "uq_maintenance_windows_occurrence",
        "maintenance_windows",
        ["name", "starts_at"],
        unique=True,
        sqlite_where=sa.text("kind = 'recurring'"),
        postgresql_where=sa.text("kind = 'recurring'"),
    )
    op.create_index(
        "uq_maintenance_windows_run",
        "maintenance_windows",
        ["run_id"],
        unique=True,
        sqlite_where=sa.text("run_id IS NOT NULL"),
        postgresql_where=sa.text("run_id IS NOT NULL"),
    )
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("maintenance_id", Id, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("maintenance_id")
    op.drop_table("maintenance_windows")
