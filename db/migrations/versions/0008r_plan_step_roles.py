"""plan_steps.role: who usually does the step (CSM, AE, Legal), so every place that shows a
step can name it; earlier steps get theirs back from the hint their note carried

Revision ID: 0008r
Revises: 0008a
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008r"
down_revision: str | None = "0008a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plan_steps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "role",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="CSM",
            )
        )
    for role in ("AE", "Legal"):
        op.execute(
            sa.text("UPDATE plan_steps SET role = :role WHERE note = :hint").bindparams(
                role=role, hint=f"Usually done by {role}."
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("plan_steps", schema=None) as batch_op:
        batch_op.drop_column("role")
