"""the entities alerts name, one row each, so that a search for one reads an index

Every value of an alert's ``attacker``, ``targets``, ``observables``, ``infrastructure`` and
``fingerprints``, lowercased, is a row ``(alert_id, role, value, whole)``: the whole entity
(``ip:203.0.113.77``, ``whole`` true) and what follows each of its colons (``203.0.113.77``,
``whole`` false), which is how the search language matches an entity given without its kind.
Values are cut at 512 characters (queries for longer ones read the lists themselves). The
rows of existing alerts are written here; from now on they are kept with every flush of
alerts (``soc_api.alerts.models``). This migration keeps its own copy of the key rule, as
migrations do, so that later changes to the application do not change what it wrote.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ROLES = ("attacker", "targets", "observables", "infrastructure", "fingerprints")
MAX_KEY = 512
BATCH = 2000


def keys_of(value: object) -> set[tuple[str, bool]]:
    if not isinstance(value, str):
        return set()
    text = value.lower()
    keys = {(text[:MAX_KEY], True)}
    colon = text.find(":")
    while colon != -1:
        keys.add((text[colon + 1 :][:MAX_KEY], False))
        colon = text.find(":", colon + 1)
    return keys


def _values(raw: Any) -> list[Any]:
    if raw is None:
        return []
    return raw if isinstance(raw, list) else [raw]


def upgrade() -> None:
    value_type = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
    op.create_table(
        "alert_entities",
        sa.Column(
            "alert_id", sa.Integer(), sa.ForeignKey("alerts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("value", value_type, nullable=False),
        sa.Column("whole", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "role", "whole", "value"),
    )  # fmt: skip
    op.create_index(
        "alert_entities_value", "alert_entities", ["value", "role", "whole", "alert_id"]
    )
    conn = op.get_bind()
    table = sa.table(
        "alert_entities",
        sa.column("alert_id", sa.Integer()),
        sa.column("role", sa.String()),
        sa.column("value", sa.Text()),
        sa.column("whole", sa.Boolean()),
    )
    alerts = sa.table(
        "alerts",
        sa.column("id", sa.Integer()),
        sa.column("attacker", sa.String()),
        *(sa.column(role, sa.JSON()) for role in ROLES[1:]),
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(alerts).where(alerts.c.id > last).order_by(alerts.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        found = []
        for row in rows:
            for role in ROLES:
                keys = {k for v in _values(getattr(row, role)) for k in keys_of(v)}
                found += [
                    {"alert_id": row.id, "role": role, "value": value, "whole": whole}
                    for value, whole in keys
                ]
        if found:
            conn.execute(sa.insert(table), found)
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("alert_entities_value", table_name="alert_entities")
    op.drop_table("alert_entities")
