"""outbox claims: a 'sending' state with its holder and expiry, the exact target of a post
(thread_ts), when a post's outcome became unknown, and channel name → id

Revision ID: 0005a
Revises: 0004
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005a"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("thread_ts", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )
        batch_op.add_column(
            sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.add_column(
            sa.Column("claimed_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("unconfirmed_since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.create_index("ix_outbox_alert_status", ["alert_id", "status"], unique=False)

    op.create_table(
        "slack_channels",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("fetched_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("slack_channels")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_alert_status")
        batch_op.drop_column("unconfirmed_since")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("thread_ts")
