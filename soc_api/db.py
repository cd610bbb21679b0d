"""The SOC state store: SQLAlchemy 2 over SQLite by default, PostgreSQL in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    """Every table of the SOC state."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def import_models() -> None:
    """Import every model module so its tables are registered on ``Base.metadata``."""
    from soc_api import checkpoints as _checkpoints  # noqa: F401
    from soc_api import shared_ratelimit as _ratelimit  # noqa: F401
    from soc_api.alerts import models as _alerts  # noqa: F401
    from soc_api.audit import models as _audit  # noqa: F401
    from soc_api.auth import models as _auth  # noqa: F401
    from soc_api.cases import models as _cases  # noqa: F401
    from soc_api.incidents import models as _incidents  # noqa: F401
    from soc_api.iocs import models as _iocs  # noqa: F401
    from soc_api.notifications import models as _notifications  # noqa: F401
    from soc_api.releases import models as _releases  # noqa: F401


def init_state(engine: Engine) -> sessionmaker[Session]:
    """Migrate the schema to the newest revision and return the session factory."""
    from soc_api.migrate import upgrade

    import_models()
    upgrade(engine)
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session
