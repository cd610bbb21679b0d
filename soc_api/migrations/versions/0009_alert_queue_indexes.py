"""indexes for the alert queue's filters and for the incidents' change check

Chosen from the query plans of the API benchmark (docs/benchmarks.md) with 100,000 alerts:
each turns a scan of every alert (or a sort of one agency's) into a range of an index.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# name: columns (the queue's order, risk then last seen then id, follows the filter)
INDEXES = {
    "alerts_updated_at": ["updated_at"],
    "alerts_agency_risk": ["agency", "risk_score", "last_seen", "id"],
    "alerts_status_severity_seen": ["status", "severity", "last_seen", "id"],
    "alerts_rule_seen": ["rule_name", "last_seen", "id"],
    "alerts_assignee_status_risk": ["assignee", "status", "risk_score", "last_seen", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "alerts", columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="alerts")
