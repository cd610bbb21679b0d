"""the language of each notification and its text as the recipient reads it

A recipient is told in its own language (``vi`` or ``en``): the row keeps that language and
the text of the e-mail, written when the row is added. Rows written before this migration
were written in English, so they read ``en`` and an empty text (the sender then writes the
English text from the payload, as it did).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=2), nullable=False, server_default="en")
        )
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("body")
        batch_op.drop_column("language")
