"""Tie plans the CLI started before issue 15 to the alert they answered, as Slack does, so
stats count that alert as planned and its value once. Only the safe cases: a plan started
from the CLI (its ``plan.start`` audit row has no user), with no alert, whose account's
latest alert raised before it is still open (so it was open then) and has no plan of its own.

Revision ID: 0008a
Revises: 0007h
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008a"
down_revision: str | None = "0007h"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLI_PLANS = sa.text(
    "SELECT p.id, p.account_id, p.created_at FROM plans p"
    " WHERE p.alert_id IS NULL AND EXISTS (SELECT 1 FROM audit_log l"
    "  WHERE l.action = 'plan.start' AND l.target_type = 'plan' AND l.target_id = p.id"
    "  AND l.user_id IS NULL)"
    " ORDER BY p.id"
)
_ALERT = sa.text(
    "SELECT a.id, a.status FROM alerts a"
    " WHERE a.account_id = :account AND a.created_at <= :started"
    " AND NOT EXISTS (SELECT 1 FROM plans q WHERE q.alert_id = a.id)"
    " ORDER BY a.id DESC LIMIT 1"
)
_OPEN = ("open", "acknowledged", "snoozed")


def upgrade() -> None:
    bind = op.get_bind()
    for plan_id, account_id, started in bind.execute(_CLI_PLANS).all():
        found = bind.execute(_ALERT, {"account": account_id, "started": started}).first()
        if found is not None and found.status in _OPEN:
            bind.execute(
                sa.text("UPDATE plans SET alert_id = :alert WHERE id = :plan"),
                {"alert": found.id, "plan": plan_id},
            )


def downgrade() -> None:
    """Nothing to undo: the links are what the CLI should have written."""
