"""data retention: audit anchor, pass leases; indexes for pruning, grouping and the outbox

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.tables import TS, Id

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_anchor",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_id", Id, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("last_at", TS, nullable=False),
        sa.Column("pruned_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_anchor"),
    )
    op.create_table(
        "maintenance",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("ran_at", TS),
        sa.PrimaryKeyConstraint("name", name="pk_maintenance"),
    )
    op.create_index("ix_inbound_events_received", "inbound_events", ["received_at"])
    op.create_index("ix_incidents_resolved", "incidents", ["resolved_at"])
    op.create_index("ix_incidents_group", "incidents", ["group_key", "resolved_at"])
    # Declared in the schema from the start but never created by a migration.
    op.create_index(
        "ix_outbox_destination", "outbox", ["destination", "status"], if_not_exists=True
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_destination", table_name="outbox", if_exists=True)
    op.drop_index("ix_incidents_group", table_name="incidents")
    op.drop_index("ix_incidents_resolved", table_name="incidents")
    op.drop_index("ix_inbound_events_received", table_name="inbound_events")
    op.drop_table("maintenance")
    op.drop_table("audit_anchor")
