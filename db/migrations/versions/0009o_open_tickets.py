"""snapshots: the count of open support tickets, for the support-upgrade offer

Revision ID: 0009o
Revises: 0008r
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009o"
down_revision: str | Sequence[str] | None = "0008r"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Unknown on existing rows: no source has stated it yet."""
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("open_tickets", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_column("open_tickets")
