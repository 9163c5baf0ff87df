"""canary releases

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.tables import Id

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("stage", sa.String(16), nullable=False, server_default=""))
        batch.add_column(sa.Column("canary_weight", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("parent_id", Id, nullable=True))
    with op.batch_alter_table("gate_runs") as batch:
        batch.add_column(sa.Column("promote_run_id", Id, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gate_runs") as batch:
        batch.drop_column("promote_run_id")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("parent_id")
        batch.drop_column("canary_weight")
        batch.drop_column("stage")
