"""card_posts: shown, the status a chat last saw (platforms that repost instead of editing)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("card_posts") as batch:
        batch.add_column(sa.Column("shown", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("card_posts") as batch:
        batch.drop_column("shown")
