"""The SOC state store: SQLAlchemy 2 over SQLite by default, PostgreSQL in production."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, Select, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    """Every table of the SOC state."""


# 19 digits or more in a row: perhaps an integer past 64 bits, which orjson reads as a float
_LONG_NUMBER = re.compile(r"\d{19}")
_LONG_NUMBER_BYTES = re.compile(rb"\d{19}")


def json_loads(text: str | bytes) -> Any:
    """A JSON column's value: orjson, two to five times as fast as the standard library here.
    What orjson refuses and the standard library reads (``NaN``, lone surrogates) or reads
    otherwise (integers past 64 bits) is read by the standard library, so every stored value
    reads as before."""
    pattern = _LONG_NUMBER_BYTES if isinstance(text, bytes) else _LONG_NUMBER
    if pattern.search(text) is not None:  # type: ignore[arg-type]
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


API_THREADS = 16
"""Threads a SOC API process runs blocking requests in (set at start-up, ``soc_api.app``)."""
POOL_SIZE = API_THREADS + 4
"""Connections kept per process: one for each API thread, and some for what runs on the
event loop (the unsearched alert queue) and in the background (detections, seals,
deliveries), so a request on the event loop never waits for a connection that only a
thread can give back."""
POOL_OVERFLOW = 4


def make_engine(url: str) -> Engine:
    pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_deserializer=json_loads,
            **pool,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, json_deserializer=json_loads, **pool)


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


@dataclass(frozen=True, slots=True)
class _Text:
    sql: str
    params: tuple[Any, ...] | dict[str, Any]
    processors: tuple[Callable[[Any], Any] | None, ...]


class CompiledTexts:
    """Statements built and compiled once for each key, then run as their SQL text.

    For the hottest reads (the alert queue): SQLAlchemy builds a statement, derives its cache
    key and looks up its compiled form on every request, a tenth or more of the request's
    CPU. Here the key names everything the statement depends on (its filter values too), so
    a repeated request runs the stored text with the stored parameters through
    ``exec_driver_sql``, and each column's value goes through the result processor of its
    type for the dialect (a JSON column decoded as the ORM would). A statement with a
    parameter that needs a bind processor is not stored: it runs as usual."""

    def __init__(self, entries: int = 512) -> None:
        self._entries = entries
        self._texts: OrderedDict[Hashable, _Text | None] = OrderedDict()
        self._lock = threading.Lock()

    def rows(self, session: Session, key: Hashable, build: Callable[[], Select[Any]]) -> list[Any]:
        """The rows of the statement ``build()`` makes, which ``key`` must determine whole."""
        connection = session.connection()
        dialect = connection.dialect
        full_key = (dialect.name, key)
        with self._lock:
            known = full_key in self._texts
            text = self._texts.get(full_key)
            if known:
                self._texts.move_to_end(full_key)
        if not known:
            text = self._compile(build(), dialect)
            with self._lock:
                self._texts[full_key] = text
                while len(self._texts) > self._entries:
                    self._texts.popitem(last=False)
        if text is None:
            return list(connection.execute(build()))
        found = connection.exec_driver_sql(text.sql, text.params).all()
        processors = text.processors
        if not any(processors):
            return list(found)
        return [
            [v if p is None or v is None else p(v) for p, v in zip(processors, row, strict=True)]
            for row in found
        ]

    @staticmethod
    def _compile(statement: Select[Any], dialect: Any) -> _Text | None:
        compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        for bind in compiled.binds.values():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                return None
        params: tuple[Any, ...] | dict[str, Any] = (
            tuple(compiled.params[name] for name in compiled.positiontup or ())
            if compiled.positional
            else dict(compiled.params)
        )
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        )
        return _Text(compiled.string, params, processors)
