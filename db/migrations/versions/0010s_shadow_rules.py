"""shadow_episodes and shadow_alerts: a candidate rule set run beside the live one

Revision ID: 0010s
Revises: 0009o
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010s"
down_revision: str | Sequence[str] | None = "0009o"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shadow_episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rules", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rules", "dedupe_key", name="uq_shadow_episodes_key"),
    )
    op.create_index("ix_shadow_episodes_account_id", "shadow_episodes", ["account_id"])
    op.create_table(
        "shadow_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rules", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("band", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("offer", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("state_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("delivery", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["episode_id"], ["shadow_episodes.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_shadow_alerts_rules_account", "shadow_alerts", ["rules", "account_id", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_shadow_alerts_rules_account", table_name="shadow_alerts")
    op.drop_table("shadow_alerts")
    op.drop_index("ix_shadow_episodes_account_id", table_name="shadow_episodes")
    op.drop_table("shadow_episodes")
