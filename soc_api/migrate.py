"""Bring the SOC state schema to the newest Alembic revision.

A database made before migrations existed (tables present, no ``alembic_version``) is
stamped at the initial revision first, so its data is kept and only the later revisions run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

log = logging.getLogger(__name__)
# Alembic narrates every step at INFO; the one line below says where the schema ended up.
logging.getLogger("alembic").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).with_name("migrations")
INITIAL = "0001"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Run the pending migrations; return the revision the database is now at."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables and "alerts" in tables:
            log.info("SOC state made before migrations: stamping it at %s", INITIAL)
            command.stamp(config, INITIAL)
        command.upgrade(config, revision)
    now = current_revision(engine)
    log.info("SOC state schema at revision %s", now)
    return now
