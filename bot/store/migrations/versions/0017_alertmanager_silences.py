"""am_silences: Alertmanager silences of incidents, asked for here or found there

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.tables import TS, Id

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "am_silences",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("incident_id", Id, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("matchers", sa.JSON, nullable=False),
        sa.Column("silence_id", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("due_at", TS),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_am_silences_incident", "am_silences", ["incident_id"])
    op.create_index("ix_am_silences_state_due", "am_silences", ["state", "due_at"])
    op.create_index(
        "uq_am_silences_found",
        "am_silences",
        ["source", "silence_id", "incident_id"],
        unique=True,
        sqlite_where=sa.text("silence_id IS NOT NULL"),
        postgresql_where=sa.text("silence_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("am_silences")
