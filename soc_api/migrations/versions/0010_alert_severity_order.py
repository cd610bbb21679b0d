"""the alert queue sorted by severity reads an index instead of sorting every alert

The queue's severity order is the severity's rank (``SEVERITY_RISK``), written as this CASE
expression both here and in the query (``soc_api.alerts.models.severity_rank_sql``): an
index on an expression serves only a query that writes the same expression.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

RANK = (
    "CASE severity WHEN 'informational' THEN 5 WHEN 'low' THEN 21 WHEN 'medium' THEN 47 "
    "WHEN 'high' THEN 73 WHEN 'critical' THEN 99 ELSE 0 END"
)


def upgrade() -> None:
    rank = sa.text(f"({RANK})")
    op.create_index("alerts_severity_rank", "alerts", [rank, "last_seen", "id"])
    op.create_index("alerts_agency_severity_rank", "alerts", ["agency", rank, "last_seen", "id"])


def downgrade() -> None:
    op.drop_index("alerts_agency_severity_rank", table_name="alerts")
    op.drop_index("alerts_severity_rank", table_name="alerts")
