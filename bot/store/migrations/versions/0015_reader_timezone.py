"""preferences: timezone, the zone a person or chat reads times in; language may be unset

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("preferences") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=True))
        batch.alter_column("language", existing_type=sa.String(8), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM preferences WHERE language IS NULL")
    with op.batch_alter_table("preferences") as batch:
        batch.alter_column("language", existing_type=sa.String(8), nullable=False)
        batch.drop_column("timezone")
