"""Embedded event store: one SQLite file, one column per dotted ECS field.

Columns are named literally after ECS fields (``"source.ip"``), which is the table shape
pySigma's SQLite backend compiles against. Columns are added as new fields appear, declared
without a type (values keep the type they arrive with) and ``COLLATE NOCASE`` (Sigma compares
strings case-insensitively). ``event.id`` is unique, so writing an event twice stores it once.

SQLite has no booleans, arrays or objects: a boolean is stored as 1/0 (what Sigma's ``true``
compares with), an array of one value as that value and a longer one or an object as JSON text.
They read back as they were written: the table ``event_fields`` remembers which fields have held
booleans, arrays or objects, and the ECS reference (:mod:`citysoc.core.ecs_reference`) names
the ECS fields that are. :func:`elements_sql` gives the elements of an array column, for
queries that match any of them (rules, IOC sweeps).
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from citysoc.core.ecs import Event, EventGroup
from citysoc.core.ecs_reference import reference
from citysoc.core.errors import StoreError
from citysoc.core.query.tree import Condition
from eventstore import addresses
from eventstore.base import AgencySeen, EventPage, StoreHealth, WriteResult

log = logging.getLogger(__name__)

TABLE = "events"
CACHE_KIB = 64 * 1024
MAX_CACHED_INSERTS = 4096
SEARCH_CATCH_UP_SECONDS = 1.0  # of address indexing before a search by address
WAL_CHECKPOINT_PAGES = 8192  # 32 MiB of WAL between checkpoints: fewer fsyncs while writing
_FIELD_NAME = re.compile(r"^[@A-Za-z_][A-Za-z0-9_.@-]{0,127}$")
FIELDS_TABLE = "event_fields"
BOOLEAN, ARRAY, OBJECTS, OBJECT = "boolean", "array", "objects", "object"
"""How a field's stored values read back: 1/0 as booleans, as a list, a list of objects, an
object."""


@cache
def ecs_kinds() -> dict[str, str]:
    """The kinds of the ECS fields the reference defines as booleans, arrays or objects."""
    kinds: dict[str, str] = {}
    for name, spec in reference().fields.items():
        if spec.array:
            kinds[name] = OBJECTS if spec.type == "object" else ARRAY
        elif spec.type == "boolean":
            kinds[name] = BOOLEAN
        elif spec.type in ("object", "flattened"):
            kinds[name] = OBJECT
    return kinds


def kind_of(value: object) -> str | None:
    """The kind a value makes its field (``None`` for a plain scalar)."""
    if type(value) is bool:
        return BOOLEAN
    if isinstance(value, list | tuple):
        return OBJECTS if value and isinstance(value[0], dict) else ARRAY
    if isinstance(value, dict):
        return OBJECT
    return None


def elements_sql(column: str, path: str = "") -> tuple[str, str]:
    """``(FROM clause, element expression)`` to match each element of an array column.

    ``column`` is a quoted column name; an array of one value is stored as that value, so a
    value that is not a JSON array counts as an array of itself. ``path`` names a field inside
    each element (an array of objects: ``data`` of ``dns.answers``). The element compares
    without regard to case, as the columns do.
    """
    values = (
        f"json_each(CASE WHEN json_valid({column}) AND substr({column}, 1, 1) = '[' "
        f"THEN {column} ELSE json_array({column}) END) AS citysoc_element"
    )
    element = "citysoc_element.value"
    if path:
        element = f"json_extract({element}, '$.{path}')"
    return values, f"{element} COLLATE NOCASE"


_USABLE: dict[str, bool] = {}
_GOOD_NAMES: set[str] = set()


def _usable(name: str) -> bool:
    """Whether a field name may become a column (memoised: the same few hundred recur)."""
    usable = _USABLE.get(name)
    if usable is None:
        usable = _FIELD_NAME.match(name) is not None
        if len(_USABLE) < 100_000:
            _USABLE[name] = usable
            if usable:
                _GOOD_NAMES.add(name)
    return usable


def _identified(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows that have an ``event.id`` and an ``@timestamp``; the others are logged."""
    if "event.id" not in names or "@timestamp" not in names:
        good, bad = [], rows
    else:
        at_id, at_time = names.index("event.id"), names.index("@timestamp")
        good = [row for row in rows if row[at_id] and row[at_time]]
        if len(good) == len(rows):
            return good
        bad = [row for row in rows if not (row[at_id] and row[at_time])]
    for row in bad:
        event = dict(zip(names, row, strict=True))
        log.warning("rejected event without event.id or @timestamp: %.200r", event)
    return good


class _ColumnRaceError(StoreError):
    """Another connection added a column this one was adding: the columns are read again."""


class _UnboundValueError(StoreError):
    """SQLite refused to bind a value as it was (the transaction is rolled back)."""


def _pick(row: tuple[Any, ...], keep: list[int]) -> tuple[Any, ...]:
    return tuple(row[n] for n in keep)


def _stored(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_sql_value(value) for value in row)


def _regexp(pattern: str, value: object) -> bool:
    if value is None:
        return False
    return re.search(pattern, str(value)) is not None


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        if len(value) == 1:
            return _sql_value(value[0])
        return _json_text(list(value))
    if isinstance(value, dict):
        return _json_text(value)
    return value


def _json_text(value: list[Any] | dict[Any, Any]) -> str:
    """JSON text of an array or object (orjson: several times faster; json for what it
    refuses, such as integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, default=str)


def connect(
    path: Path, *, readonly: bool = False, busy_timeout: float = 30.0
) -> sqlite3.Connection:
    """A connection with the settings every user of the store needs (WAL, REGEXP, timeouts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, check_same_thread=False)
    conn.create_function("REGEXP", 2, _regexp, deterministic=True)
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")  # the event.id index outgrows the default
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    return conn


class SqliteEventStore:
    """The embedded event store. Thread-safe: one connection guarded by a lock.

    Its position is the row sequence ``seq``.
    """

    kind = "sqlite"

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        try:
            self.conn = connect(path, busy_timeout=busy_timeout)
            self.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
            self._init_schema()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open event store {path}: {exc}") from exc
        self.lock = threading.RLock()
        self._columns = self._read_columns()
        self._inserts: dict[tuple[str, ...], str] = {}
        self._kinds = {**self._read_kinds(), **ecs_kinds()}

    def _init_schema(self) -> None:
        with self.conn:
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (seq INTEGER PRIMARY KEY, "
                '"event.id" TEXT NOT NULL UNIQUE, "@timestamp" TEXT NOT NULL, '
                '"organization.id" COLLATE NOCASE)'
            )
            self.conn.execute(f'CREATE INDEX IF NOT EXISTS events_ts ON {TABLE} ("@timestamp")')
            self.conn.execute(
                f'CREATE INDEX IF NOT EXISTS events_org ON {TABLE} ("organization.id")'
            )
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {FIELDS_TABLE} "
                "(name TEXT PRIMARY KEY, kind TEXT NOT NULL)"
            )
        addresses.ensure(self.conn)

    def _read_kinds(self) -> dict[str, str]:
        return dict(self.conn.execute(f"SELECT name, kind FROM {FIELDS_TABLE}").fetchall())

    def _known_kinds(self) -> dict[str, str]:
        """The kinds, with those another writer of the file has recorded since (reads only)."""
        self._kinds.update(self._read_kinds())
        self._kinds.update(ecs_kinds())
        return self._kinds

    def _learn_kinds(self, groups: list[tuple[tuple[str, ...], list[tuple[Any, ...]]]]) -> None:
        """Remember the fields that hold booleans, arrays or objects (from each group's first
        event: a few values a batch), so that they read back as such."""
        new: dict[str, str] = {}
        for names, rows in groups:
            if rows:
                for name, value in zip(names, rows[0], strict=True):
                    if name not in self._kinds and name not in new:
                        kind = kind_of(value)
                        if kind is not None:
                            new[name] = kind
        if new:
            with self.lock, self.conn:
                self.conn.executemany(
                    f"INSERT OR IGNORE INTO {FIELDS_TABLE} (name, kind) VALUES (?, ?)",
                    new.items(),
                )
                self._kinds.update(new)

    def _read_columns(self) -> dict[str, str]:
        rows = self.conn.execute(f"PRAGMA table_info({TABLE})").fetchall()
        return {row[1].lower(): row[1] for row in rows}

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SqliteEventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_columns(self, fields: Iterable[str]) -> None:
        """Add a column for every field not yet in the table (cheap: schema only)."""
        with self.lock:
            for field in fields:
                if field.lower() in self._columns or field == "rowid":
                    continue
                if not _FIELD_NAME.match(field):
                    raise StoreError(f"refusing unusual field name {field!r}")
                self.conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN {quote(field)} COLLATE NOCASE")
                self._columns[field.lower()] = field

    def write(self, events: Iterable[Event]) -> WriteResult:
        """Store events in one transaction; an event already stored is skipped, one without
        ``event.id`` or ``@timestamp`` is logged and counted as rejected."""
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for event in events:
            keys = tuple(event)
            rows = groups.get(keys)
            if rows is None:
                rows = groups[keys] = []
            rows.append(tuple(event.values()))
        return self.write_groups(groups.items())

    def write_groups(self, groups: Iterable[EventGroup]) -> WriteResult:
        """:meth:`write` of events given as groups of rows (the disk buffer's format).

        Rows are bound as they are; only if SQLite refuses a value (a list, say) is the whole
        batch written again with lists and mappings as JSON text. A field whose name cannot
        be a column is left out.
        """
        ready: list[tuple[tuple[str, ...], list[tuple[Any, ...]]]] = []
        rejected = 0
        for names, rows in groups:
            good = _identified(names, rows)
            rejected += len(rows) - len(good)
            if _GOOD_NAMES.issuperset(names) or all(map(_usable, names)):
                ready.append((names, good))
            else:
                keep = [n for n, name in enumerate(names) if _usable(name)]
                ready.append((tuple(names[n] for n in keep), [_pick(row, keep) for row in good]))
        self._learn_kinds(ready)
        ready = [(names, self._bindable(names, rows)) for names, rows in ready]
        try:
            try:
                return self._insert(ready, rejected)
            except _ColumnRaceError:  # another writer added the same new field first
                return self._insert(ready, rejected)
        except _UnboundValueError:
            stored = [(names, [_stored(row) for row in rows]) for names, rows in ready]
            return self._insert(stored, rejected)

    def _bindable(
        self, names: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        """The rows with the lists and mappings of fields known to hold them as stored (JSON
        text, an array of one as its value): converting only those fields spares converting
        every value of the batch after SQLite refuses one."""
        spots = [n for n, name in enumerate(names) if self._kinds.get(name, BOOLEAN) != BOOLEAN]
        if not spots:
            return rows
        bindable = []
        for row in rows:
            values = list(row)
            for n in spots:
                if isinstance(values[n], list | tuple | dict):
                    values[n] = _sql_value(values[n])
            bindable.append(tuple(values))
        return bindable

    def _insert(
        self, groups: Iterable[tuple[tuple[str, ...], list[tuple[Any, ...]]]], rejected: int
    ) -> WriteResult:
        inserted = total = 0
        with self.lock:
            try:
                with self.conn:
                    for keys, rows in groups:
                        if rows:
                            cur = self.conn.executemany(self._insert_sql(keys), rows)
                            inserted += cur.rowcount
                            total += len(rows)
            except sqlite3.Error as exc:
                self._inserts.clear()  # a column may be gone with a rolled-back ALTER TABLE
                self._columns = self._read_columns()
                unbound = isinstance(exc, sqlite3.ProgrammingError) and "binding" in str(exc)
                race = "duplicate column name" in str(exc)
                error = _UnboundValueError if unbound else _ColumnRaceError if race else StoreError
                raise error(f"event store write failed: {exc}") from exc
        return WriteResult(inserted=inserted, duplicates=total - inserted, rejected=rejected)

    def _insert_sql(self, keys: tuple[str, ...]) -> str:
        """The INSERT statement for events with these fields (memoised: few key sets recur)."""
        sql = self._inserts.get(keys)
        if sql is None:
            self.ensure_columns(keys)
            cols = ", ".join(quote(self._columns[k.lower()]) for k in keys)
            sql = f"INSERT OR IGNORE INTO {TABLE} ({cols}) VALUES ({', '.join('?' * len(keys))})"
            if len(self._inserts) < MAX_CACHED_INSERTS:
                self._inserts[keys] = sql
        return sql

    def count(self) -> int:
        with self.lock:
            return int(self.conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0])

    def settle(self) -> None:
        """Nothing to wait for: a committed row is readable, and ``seq`` is the position."""

    def head(self) -> int:
        with self.lock:
            return int(
                self.conn.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {TABLE}").fetchone()[0]
            )

    def get(
        self, event_ids: Sequence[str], *, agencies: Sequence[str] | None = None
    ) -> list[Event]:
        """Events by id, in store order, without their empty fields; only the given
        agencies' events when ``agencies`` is set."""
        if not event_ids or (agencies is not None and not agencies):
            return []
        sql = f'SELECT * FROM {TABLE} WHERE "event.id" IN (SELECT value FROM json_each(?))'
        args: tuple[str, ...] = (json.dumps(list(event_ids)),)
        if agencies is not None:
            sql += ' AND "organization.id" IN (SELECT value FROM json_each(?))'
            args += (json.dumps(list(agencies)),)
        with self.lock:
            return list(_rows(self.conn.execute(sql + " ORDER BY seq", args), self._known_kinds()))

    def matching(
        self,
        field_name: str,
        values: Sequence[str],
        *,
        after: int,
        upto: int,
        fields: Sequence[str] | None = None,
    ) -> list[Event]:
        """Events ``after < seq <= upto`` whose field is one of ``values`` (any case); only
        ``fields`` of each (and ``event.id``) when given."""
        with self.lock:
            if field_name.lower() not in self._columns or not values:
                return []
            column = quote(self._columns[field_name.lower()])
            wanted = "IN (SELECT value FROM json_each(?))"
            if self._known_kinds().get(field_name) == ARRAY:
                values_from, element = elements_sql(column)
                test = f"EXISTS (SELECT 1 FROM {values_from} WHERE {element} {wanted})"
            else:
                test = f"{column} {wanted}"
            read = "*"
            if fields is not None:
                wanted_columns = dict.fromkeys(["event.id", *fields])
                read = ", ".join(
                    quote(self._columns[name.lower()])
                    for name in wanted_columns
                    if name.lower() in self._columns
                )
            cur = self.conn.execute(
                f"SELECT {read} FROM {TABLE} WHERE seq > ? AND seq <= ? AND {test} ORDER BY seq",
                (after, upto, json.dumps(list(values))),
            )
            return list(_rows(cur, self._known_kinds()))

    def find(
        self,
        condition: Condition | None,
        *,
        agencies: Sequence[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> EventPage:
        """See :meth:`eventstore.base.EventStore.find` (compiled by
        :mod:`eventstore.query_sqlite`)."""
        from eventstore import query_sqlite

        if agencies is not None and not agencies:
            return EventPage(total=0, events=[])
        with self.lock:
            self._narrowing(condition)
            compiler = query_sqlite.Compiler(self._read_columns(), self._known_kinds())
            total, cur = query_sqlite.search(
                self.conn, compiler, condition, agencies=agencies, limit=limit, offset=offset
            )
            return EventPage(total=total, events=list(_rows(cur, self._known_kinds())))

    def seen_by(self, condition: Condition | None) -> list[AgencySeen]:
        from eventstore import query_sqlite

        with self.lock:
            self._narrowing(condition)
            compiler = query_sqlite.Compiler(self._read_columns(), self._known_kinds())
            return query_sqlite.seen_by(self.conn, compiler, condition)

    def _narrowing(self, condition: Condition | None) -> None:
        """Before a search the address index narrows: catch the index up, within a budget
        (what it does not hold yet is read event by event, so a failure only costs time)."""
        if addresses.addresses(condition) is None:
            return
        try:
            addresses.catch_up(self.conn, TABLE, budget=SEARCH_CATCH_UP_SECONDS)
        except sqlite3.Error as exc:
            log.warning("event store: address index not caught up before a search: %s", exc)

    def index_addresses(self, *, budget: float | None = None) -> int:
        """Catch the address index up to the newest event (or for ``budget`` seconds); the
        ``seq`` it holds every event up to (:mod:`eventstore.addresses`)."""
        with self.lock:
            return addresses.catch_up(self.conn, TABLE, budget=budget)

    def health(self) -> StoreHealth:
        try:
            events = self.count()
        except sqlite3.Error as exc:
            return StoreHealth(ok=False, kind=self.kind, detail=f"{self.path}: {exc}")
        return StoreHealth(ok=True, kind=self.kind, detail=str(self.path), events=events)

    def recent(self, *, limit: int = 100, agency: str | None = None) -> list[Event]:
        sql = f"SELECT * FROM {TABLE}"
        args: tuple[Any, ...] = ()
        if agency is not None:
            sql += ' WHERE "organization.id" = ?'
            args = (agency,)
        with self.lock:
            cur = self.conn.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit))
            return list(_rows(cur, self._known_kinds()))


def _rows(cur: sqlite3.Cursor, kinds: dict[str, str]) -> Iterator[Event]:
    names = [d[0] for d in cur.description]
    typed = [(name, kinds[name]) for name in names if name in kinds]
    for row in cur:
        event = {n: v for n, v in zip(names, row, strict=True) if v is not None and n != "seq"}
        for name, kind in typed:
            if name in event:
                event[name] = read_back(event[name], kind)
        yield event


def read_back(value: Any, kind: str) -> Any:
    """A stored value as it was written: a boolean, an array, an object (see the module)."""
    if kind == BOOLEAN:
        return bool(value) if type(value) is int and value in (0, 1) else value
    if kind == OBJECT:
        parsed = _json(value, "{")
        return parsed if isinstance(parsed, dict) else value
    parsed = _json(value, "[{" if kind == OBJECTS else "[")
    if isinstance(parsed, list):
        return parsed
    return [parsed if isinstance(parsed, dict) else value]


def _json(value: Any, starts: str) -> Any:
    if not isinstance(value, str) or not value or value[0] not in starts:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None
