"""audit_log: key_id, the audit key whose HMAC links each new row (NULL on older rows)

Rows written before this revision keep their plain SHA-256 links and a NULL `key_id`; they verify
as the legacy prefix of the chain, and the first keyed row's HMAC covers the last of them (see
`bot.audit.log`). Nothing is rewritten here: re-linking old rows would need the key, and would
bless any edit made before the upgrade.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("key_id", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("key_id")
