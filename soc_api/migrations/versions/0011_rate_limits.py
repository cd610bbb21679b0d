"""rate limits kept in the SOC state, so that several API processes share one budget

A login limit counted in each process would give an attacker one budget per process; the
buckets live here instead (the key is a SHA-256 of the client address or account name, so no
attempted account name is stored).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("stamp", sa.Float(), nullable=False),
    )
    op.create_index("rate_limits_stamp", "rate_limits", ["stamp"])


def downgrade() -> None:
    op.drop_index("rate_limits_stamp", table_name="rate_limits")
    op.drop_table("rate_limits")
