"""on-call: escalations, their log and pages; schedule overrides, swaps and state;
incidents.triggered_at and page_destinations

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.tables import TS, Id

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("triggered_at", TS, nullable=True))
        batch.add_column(sa.Column("page_destinations", sa.JSON, nullable=True))
    op.execute("UPDATE incidents SET triggered_at = created_at")
    op.create_table(
        "escalations",
        sa.Column("incident_id", Id, primary_key=True, autoincrement=False),
        sa.Column("policy", sa.String(128), nullable=False),
        sa.Column("plan", sa.JSON, nullable=False),
        sa.Column("episode", TS, nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("loop", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("next_at", TS),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("incident_id", name="pk_escalations"),
    )
    op.create_index("ix_escalations_due", "escalations", ["state", "next_at"])
    op.create_table(
        "escalation_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("incident_id", Id, nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("loop", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("ran_at", TS, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_escalation_log"),
    )
    op.create_index("ix_escalation_log_incident", "escalation_log", ["incident_id", "id"])
    op.create_table(
        "pages",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("incident_id", Id, nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("loop", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("recipient", sa.String(300), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_ref", sa.String(128), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS),
        sa.Column("claimed_until", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.PrimaryKeyConstraint("id", name="pk_pages"),
        sa.UniqueConstraint(
            "incident_id",
            "cycle",
            "loop",
            "step",
            "recipient",
            "channel",
            name="uq_pages_incident_id_cycle_loop_step_recipient_channel",
        ),
    )
    op.create_index("ix_pages_due", "pages", ["status", "next_attempt_at"])
    op.create_index("ix_pages_recipient", "pages", ["recipient", "channel", "sent_at"])
    op.create_table(
        "round_robin",
        sa.Column("policy", sa.String(128), nullable=False),
        sa.Column("step", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("counter", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("policy", "step", name="pk_round_robin"),
    )
    op.create_table(
        "schedule_overrides",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("schedule", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedule_overrides"),
    )
    op.create_index("ix_schedule_overrides_schedule", "schedule_overrides", ["schedule", "ends_at"])
    op.create_table(
        "swap_requests",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("schedule", sa.String(128), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("other", sa.String(64), nullable=False),
        sa.Column("shift_start", TS, nullable=False),
        sa.Column("shift_end", TS, nullable=False),
        sa.Column("other_start", TS),
        sa.Column("other_end", TS),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("destinations", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("decided_at", TS),
        sa.PrimaryKeyConstraint("id", name="pk_swap_requests"),
    )
    op.create_table(
        "schedule_state",
        sa.Column("schedule", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("until", TS),
        sa.Column("gaps_checked_at", TS),
        sa.Column("warned", sa.JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("schedule", name="pk_schedule_state"),
    )


def downgrade() -> None:
    for table in (
        "schedule_state",
        "swap_requests",
        "schedule_overrides",
        "round_robin",
        "pages",
        "escalation_log",
        "escalations",
    ):
        op.drop_table(table)
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("page_destinations")
        batch.drop_column("triggered_at")
