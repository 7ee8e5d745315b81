"""slack delivery: routed channel on outbox rows, alert posted_at, lookup indexes

Revision ID: 0003k
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003k"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("posted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.create_index("ix_alerts_owner_status", ["owner_slack_id", "status"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True)
        )
        batch_op.create_index("ix_outbox_channel_sent", ["channel", "sent_at"], unique=False)

    with op.batch_alter_table("slack_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_users_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slack_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_users_user_id"))

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_channel_sent")
        batch_op.drop_column("channel")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_owner_status")
        batch_op.drop_column("posted_at")
