"""crm_tickets and champion_links: each ticket's (or Case's) open/urgent state, so the open
urgent count can fall when one closes; each account's champions at the last read, so a
champion who left is noticed by comparison

Revision ID: 0007h
Revises: 0006f
Create Date: 2026-12-11
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007h"
down_revision: str | None = "0006f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crm_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("ticket_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "ticket_id"),
    )
    with op.batch_alter_table("crm_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_tickets_account_id"), ["account_id"])
    op.create_table(
        "champion_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "account_id", "contact_id"),
    )
    with op.batch_alter_table("champion_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_champion_links_account_id"), ["account_id"])


def downgrade() -> None:
    with op.batch_alter_table("champion_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_champion_links_account_id"))
    op.drop_table("champion_links")
    with op.batch_alter_table("crm_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_tickets_account_id"))
    op.drop_table("crm_tickets")
