"""indexes for the search language's text on titles and its test of rule names

A bare value (``?q=camera``) searches the title for the text anywhere in it
(``lower(title) LIKE '%camera%'``), the rule name for the text, and the entities
(``alert_entities``, 0012). The first two read every alert; now each reads an index:

- SQLite: ``alerts_title_fts``, an FTS5 table with the ``trigram`` tokenizer (SQLite 3.34 or
  newer) over the titles, its content read from ``alerts`` (external content, row id the
  alert's id) and kept by three triggers on ``alerts``. A search of three characters or more
  takes its candidates from it and still tests each with the ``LIKE`` of the scan
  (``soc_api.search.alert_sql``), so the answers are the scan's.
- PostgreSQL: ``alerts_title_trgm``, a GIN index of ``lower(title)`` with ``pg_trgm``'s
  ``gin_trgm_ops``, which answers ``LIKE '%text%'`` itself. ``pg_trgm`` is a trusted
  extension (a database's owner may create it); where it cannot be created the migration
  logs a warning and goes on without this index: the searches give the same answers, reading
  every alert.
- Both: ``alerts_rule_name_lower`` on ``lower(rule_name)``, the test of a keyword, so that
  the parts of a bare value's ``OR`` each read an index.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import logging
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

TRGM_INDEX = "CREATE INDEX alerts_title_trgm ON alerts USING gin (lower(title) gin_trgm_ops)"
TRIGGERS = {
    "alerts_title_fts_insert": """
        CREATE TRIGGER alerts_title_fts_insert AFTER INSERT ON alerts BEGIN
            INSERT INTO alerts_title_fts (rowid, title) VALUES (new.id, new.title);
        END""",
    "alerts_title_fts_delete": """
        CREATE TRIGGER alerts_title_fts_delete AFTER DELETE ON alerts BEGIN
            INSERT INTO alerts_title_fts (alerts_title_fts, rowid, title)
            VALUES ('delete', old.id, old.title);
        END""",
    "alerts_title_fts_update": """
        CREATE TRIGGER alerts_title_fts_update AFTER UPDATE OF id, title ON alerts BEGIN
            INSERT INTO alerts_title_fts (alerts_title_fts, rowid, title)
            VALUES ('delete', old.id, old.title);
            INSERT INTO alerts_title_fts (rowid, title) VALUES (new.id, new.title);
        END""",
}


def _sqlite_upgrade() -> None:
    if sqlite3.sqlite_version_info < (3, 34):
        raise RuntimeError(
            f"the SOC state on SQLite needs SQLite 3.34 or newer (FTS5's trigram tokenizer); "
            f"this Python has {sqlite3.sqlite_version}"
        )
    op.execute(
        "CREATE VIRTUAL TABLE alerts_title_fts USING fts5("
        "title, content='alerts', content_rowid='id', tokenize='trigram')"
    )
    for trigger in TRIGGERS.values():
        op.execute(trigger)
    op.execute("INSERT INTO alerts_title_fts (alerts_title_fts) VALUES ('rebuild')")


def _postgresql_upgrade() -> None:
    conn = op.get_bind()
    try:
        with conn.begin_nested():  # a savepoint: a refusal leaves the migration's transaction
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as refused:
        log.warning(
            "pg_trgm could not be created (%s): searches of alert titles read every alert "
            "until the database's owner runs: CREATE EXTENSION pg_trgm; %s",
            str(refused.orig).strip().splitlines()[0] if refused.orig else refused,
            TRGM_INDEX,
        )
        return
    op.execute(TRGM_INDEX)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_upgrade()
    elif dialect == "postgresql":
        _postgresql_upgrade()
    op.create_index("alerts_rule_name_lower", "alerts", [sa.text("lower(rule_name)")])


def downgrade() -> None:
    op.drop_index("alerts_rule_name_lower", table_name="alerts")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS alerts_title_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS alerts_title_trgm")
