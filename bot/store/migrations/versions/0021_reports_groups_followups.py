"""the pager's lessons: review follow-ups tracked, chat groups following a rotation, scheduled
reports posted once, which way a shift changed hands, and indexes for reports over a period
and for a service's earlier incidents

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.tables import TS, Id

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("swap_requests") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="swap"))
    op.execute("UPDATE swap_requests SET kind = 'cover' WHERE other_start IS NULL")
    op.create_index("ix_swap_requests_decided", "swap_requests", ["status", "decided_at"])
    op.create_index("ix_incidents_service", "incidents", ["service", "created_at"])
    op.create_index("ix_pages_sent", "pages", ["sent_at"])
    op.create_table(
        "followups",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("incident_id", Id, nullable=True),
        sa.Column("run_id", Id, nullable=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("done_by", sa.String(64), nullable=True),
        sa.Column("done_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_followups_incident", "followups", ["incident_id"])
    op.create_index("ix_followups_run", "followups", ["run_id"])
    op.create_index("ix_followups_open", "followups", ["done", "created_at"])
    op.create_table(
        "group_sync",
        sa.Column("schedule", sa.String(128), primary_key=True),
        sa.Column("target", sa.String(300), primary_key=True),
        sa.Column("wanted", sa.JSON, nullable=False),
        sa.Column("applied", sa.JSON, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("last_error", sa.String(512), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_group_sync_due", "group_sync", ["status", "next_attempt_at"])
    op.create_table(
        "report_posts",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("period_start", TS, primary_key=True),
        sa.Column("posted_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_posts")
    op.drop_index("ix_group_sync_due", "group_sync")
    op.drop_table("group_sync")
    for name in ("ix_followups_open", "ix_followups_run", "ix_followups_incident"):
        op.drop_index(name, "followups")
    op.drop_table("followups")
    op.drop_index("ix_pages_sent", "pages")
    op.drop_index("ix_incidents_service", "incidents")
    op.drop_index("ix_swap_requests_decided", "swap_requests")
    with op.batch_alter_table("swap_requests") as batch:
        batch.drop_column("kind")
