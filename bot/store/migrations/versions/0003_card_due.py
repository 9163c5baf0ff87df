"""incidents: card_due_at, a card refresh put off to coalesce a burst of alert changes

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("card_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_incidents_card_due", ["card_due_at"])


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_card_due")
        batch.drop_column("card_due_at")
