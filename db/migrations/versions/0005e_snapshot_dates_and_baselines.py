"""snapshots: the NPS survey date and the baselines at purchase

Revision ID: 0005e
Revises: 0005a
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005e"
down_revision: str | Sequence[str] | None = "0005a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BASELINES = (
    "headcount_at_purchase",
    "departments_at_purchase",
    "seats_at_purchase",
    "active_users_at_purchase",
)


def upgrade() -> None:
    """New facts start unknown: existing rows keep meaning what they meant."""
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nps_on", sa.Date(), nullable=True))
        for name in _BASELINES:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        for name in reversed(_BASELINES):
            batch_op.drop_column(name)
        batch_op.drop_column("nps_on")
