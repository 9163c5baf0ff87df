"""send budgets: per-destination rate limits and Retry-After blocks shared by all replicas

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.tables import TS

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_budgets",
        sa.Column("destination", sa.String(256), nullable=False),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("blocked_until", TS),
        sa.Column("recent", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("destination", name="pk_send_budgets"),
    )


def downgrade() -> None:
    op.drop_table("send_budgets")
