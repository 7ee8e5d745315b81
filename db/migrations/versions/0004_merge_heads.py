"""join the leases/plans, Slack delivery and sources branches into one head

Revision ID: 0004
Revises: 0003q, 0003k, 0003s
Create Date: 2026-12-01
"""

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | Sequence[str] | None = ("0003q", "0003k", "0003s")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the branches touch different tables."""


def downgrade() -> None:
    """Nothing to undo."""
