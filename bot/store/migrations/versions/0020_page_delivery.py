"""page delivery: failover between providers, each provider's sends and delivery reports, and
how an incident was acknowledged

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.tables import TS, Id

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pages") as batch:
        batch.add_column(sa.Column("provider_pos", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("confirm_by", TS, nullable=True))
        batch.add_column(sa.Column("delivery", sa.String(16), nullable=False, server_default=""))
        batch.add_column(sa.Column("delivered_at", TS, nullable=True))
    op.create_index("ix_pages_confirm", "pages", ["confirm_by"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("acked_via", sa.String(32), nullable=True))
    op.create_table(
        "page_sends",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("page_id", Id, nullable=False),
        sa.Column("incident_id", Id, nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("provider_ref", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(256), nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_page_sends_ref", "page_sends", ["provider", "provider_ref"])
    op.create_index("ix_page_sends_page", "page_sends", ["page_id"])
    op.create_index("ix_page_sends_incident", "page_sends", ["incident_id"])
    op.create_table(
        "page_receipts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_ref", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(256), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("applied", sa.Boolean, nullable=False),
    )
    op.create_index("ix_page_receipts_ref", "page_receipts", ["provider", "provider_ref"])
    op.create_index("ix_page_receipts_waiting", "page_receipts", ["applied", "received_at"])


def downgrade() -> None:
    op.drop_table("page_receipts")
    op.drop_table("page_sends")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("acked_via")
    op.drop_index("ix_pages_confirm", "pages")
    with op.batch_alter_table("pages") as batch:
        for column in ("delivered_at", "delivery", "confirm_by", "provider_pos"):
            batch.drop_column(column)
