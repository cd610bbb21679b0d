"""alerts name their attacker, their targets and the infrastructure that only relayed them

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attacker", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("targets", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("target_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("infrastructure", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("fingerprints", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("tactic", sa.String(length=32), nullable=False, server_default="")
        )
        batch_op.create_index("alerts_attacker", ["attacker", "last_seen"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("alerts_attacker")
        for name in (
            "tactic",
            "fingerprints",
            "infrastructure",
            "target_count",
            "targets",
            "attacker",
        ):
            batch_op.drop_column(name)
