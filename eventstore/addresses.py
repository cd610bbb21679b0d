"""The embedded store's address index: which events hold which address, beside the events.

Searches by address (``source.ip:203.0.113.7``, a pivot on an address) would otherwise read
every event: the address columns are not indexed, and ``related.ip`` holds lists. The table
``event_addresses`` keeps one row for each address an event holds in any ECS address field
(as a value or as an element of a list), lowercased as the columns compare (``COLLATE
NOCASE``): ``(address, "@timestamp", seq)`` as its key, the fields it is in (:func:`bit`),
and the event's ``organization.id``. Only text is indexed: a search compares an address, a
string, and a number or a blob never equals one.

It is not written at ingest: any index there costs every insert (6-16 µs of CPU an event
measured, as much again as storing it). It is caught up afterwards, in bulk, by whoever
searches (:func:`catch_up`, from the oldest events not yet indexed, in transactions of
:data:`CHUNK` events, within a time budget) or by ``SqliteEventStore.index_addresses``; the
table ``event_addresses_upto`` says up to which ``seq`` it holds every event. A search reads
the events the index gives for its addresses plus every event after that point, so its
answers never depend on how far the index has come. Events are never updated or deleted, and
``seq`` only grows (the checkpoint of detections relies on it too).

Beside it, ``event_address_counts`` keeps, by address, set of fields and agency, how many
events there are and their first and last ``@timestamp``: a few rows an address, added to as
the index is caught up (in the same transactions).

A search whose condition is one address in some address fields (``source.ip:X``, the pivot's
``source.ip:X OR destination.ip:X OR related.ip:X ...``) is answered by these alone, as a
scan would answer it: counted and grouped by agency from the counts, paged newest first from
the index's rows in their order, the events table read only for the rows of the page (and for
the events the index does not hold yet). Any other search whose condition can only hold for
events holding some addresses (any of several addresses, or one among other conditions all
required) reads those candidates, then tests its whole condition on them: the index narrows,
the condition decides, so the answers are those of a scan.

The index is derived data: a store whose index has another layout (an earlier version's) has
it dropped when opened and rebuilt from the first event by the catching up, which logs its
progress; until then the events it does not hold are read one by one.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable

from citysoc.core.query.tree import AllOf, AnyOf, Condition, Equals

log = logging.getLogger(__name__)

TABLE = "event_addresses"
UPTO = "event_addresses_upto"
COUNTS = "event_address_counts"
EARLIER = "event_addresses_earlier"
EARLIER_CHUNK = 100_000
CHUNK = 50_000
CHUNK_ROWS = "temp.citysoc_address_chunk"
FIELDS = (
    "source.ip",
    "destination.ip",
    "client.ip",
    "server.ip",
    "host.ip",
    "related.ip",
    "dns.resolved_ip",
)
"""The ECS fields of type ``ip``: what the index holds and the searches it narrows. Their
order numbers the bits of ``fields`` (:func:`bit`): another list is another layout."""
COLUMNS = ("address", "ts", "seq", "fields", "agency")
COUNTED = ("address", "fields", "agency", "events", "first", "last")
"""The columns of the index and of its counts, as :func:`ensure` makes them: other columns
are another layout (so is another :data:`FIELDS`, which :data:`UPTO` records)."""


def bit(field: str, *, element: bool) -> int:
    """The bit of ``fields`` saying the address is ``field``'s value (``element``: one of the
    elements of its list)."""
    return 1 << (FIELDS.index(field) + (len(FIELDS) if element else 0))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _selects(field: str, column: str, row: str, table: str) -> list[str]:
    """The text address values of one column of each row of ``table`` (with the row's
    ``seq``, ``@timestamp``, ``organization.id`` and the bit of the field): the value itself,
    or each element of a JSON list (how lists are stored:
    :func:`eventstore.sqlite.elements_sql`)."""
    c = f"{row}.{_quote(column)}"
    is_list = f"(substr({c}, 1, 1) = '[' AND json_valid({c}))"
    rest = f'{row}.seq AS seq, {row}."@timestamp" AS ts, {row}."organization.id" AS agency'
    joined = f"{table} AS {row}, "
    whole, element = bit(field, element=False), bit(field, element=True)
    return [
        f"SELECT lower({c}) AS address, {rest}, {whole} AS bit FROM {table} AS {row} "
        f"WHERE typeof({c}) = 'text' AND NOT {is_list}",
        f"SELECT lower(element.value), {rest}, {element} FROM {joined}json_each(CASE WHEN "
        f"{is_list} THEN {c} ELSE '[]' END) AS element WHERE substr({c}, 1, 1) = '[' "
        "AND typeof(element.value) = 'text'",
    ]


def address_columns(columns: Iterable[str]) -> list[tuple[str, str]]:
    """The address fields among a table's column names, in :data:`FIELDS` order, with their
    column names."""
    present = {c.lower(): c for c in columns}
    return [(f, present[f]) for f in FIELDS if f in present]


def ensure(conn: sqlite3.Connection) -> None:
    """Create the index's tables, once (empty: :func:`catch_up` fills them); an index of
    another layout is set aside, to be rebuilt from the first event (renaming it is
    immediate: dropping a large one here would hold every writer, and the opening of the
    store, for as long as it takes; :func:`catch_up` deletes it a chunk at a time)."""
    if _made(conn):
        return  # no write lock taken to open a store that has them
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        if _made(conn):
            return  # made meanwhile by another connection
        if _columns(conn, TABLE):
            log.warning(
                "event store: the address index has another layout; rebuilding it from the "
                "first event (searches by address read the events it does not hold yet)"
            )
            if _columns(conn, EARLIER):
                conn.execute(f"DROP TABLE {TABLE}")  # one set aside already: not two
            else:
                conn.execute(f"ALTER TABLE {TABLE} RENAME TO {EARLIER}")
        for table in (UPTO, COUNTS):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (address TEXT NOT NULL, ts TEXT NOT NULL, "
            "seq INTEGER NOT NULL, fields INTEGER NOT NULL, agency COLLATE NOCASE, "
            "PRIMARY KEY (address, ts, seq)) WITHOUT ROWID"
        )
        # a row an address, set of fields and agency: a rowid table, as the agency may be
        # NULL (the rows of a NULL agency are not merged: every reader sums them)
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {COUNTS} (address TEXT NOT NULL, fields INTEGER NOT "
            "NULL, agency COLLATE NOCASE, events INTEGER NOT NULL, first TEXT NOT NULL, "
            "last TEXT NOT NULL)"
        )
        conn.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {COUNTS}_key ON {COUNTS} (address, fields, agency)"
        )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {UPTO} (seq INTEGER NOT NULL, fields TEXT NOT NULL)"
        )
        if conn.execute(f"SELECT COUNT(*) FROM {UPTO}").fetchone()[0] == 0:
            conn.execute(f"INSERT INTO {UPTO} (seq, fields) VALUES (0, ?)", (",".join(FIELDS),))


def _columns(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    return tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))


def _made(conn: sqlite3.Connection) -> bool:
    """Whether the index is there, in this version's layout."""
    if _columns(conn, TABLE) != COLUMNS or _columns(conn, COUNTS) != COUNTED:
        return False
    if _columns(conn, UPTO) != ("seq", "fields"):
        return False
    row = conn.execute(f"SELECT fields = ? FROM {UPTO}", (",".join(FIELDS),)).fetchone()
    return row is not None and bool(row[0])


def catch_up(conn: sqlite3.Connection, events: str, *, budget: float | None = None) -> int:
    """Index the events stored since the index was last caught up, :data:`CHUNK` at a time,
    each chunk its own transaction (writers wait for one chunk at most), until the newest
    event or until ``budget`` seconds have passed; the ``seq`` it now holds every event up to.
    Then, in what is left of the budget (at least one chunk when there was nothing to index),
    delete an index of an earlier layout (:func:`ensure`)."""
    started = time.monotonic()
    indexed = not _caught_up(conn, events)
    if indexed:
        upto = _catch_up(conn, events, started, budget)
    else:
        upto = int(conn.execute(f"SELECT seq FROM {UPTO}").fetchone()[0])
    # after indexing (searches need the index first), within the budget
    within = not indexed or budget is None or time.monotonic() - started <= budget
    if within and _columns(conn, EARLIER):
        _clear_earlier(conn, started, budget)
    return upto


def _catch_up(conn: sqlite3.Connection, events: str, started: float, budget: float | None) -> int:
    first: int | None = None
    while True:
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            upto = int(conn.execute(f"SELECT seq FROM {UPTO}").fetchone()[0])
            head = int(conn.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {events}").fetchone()[0])
            if upto >= head:
                return upto
            first = upto if first is None else first
            last = min(head, upto + CHUNK)
            names = [row[1] for row in conn.execute(f"PRAGMA table_info({events})")]
            selects = [
                s.replace(" WHERE ", " WHERE e.seq > :upto AND e.seq <= :last AND ", 1)
                for field, column in address_columns(names)
                for s in _selects(field, column, "e", events)
            ]
            if selects:
                _index(conn, selects, {"upto": upto, "last": last})
            conn.execute(f"UPDATE {UPTO} SET seq = ?", (last,))
        if last >= head or (budget is not None and time.monotonic() - started > budget):
            behind = last < head and last - first >= CHUNK
            log.log(
                logging.INFO if behind else logging.DEBUG,
                "event store: addresses indexed up to event %d of %d (%.0f%%)",
                last,
                head,
                100 * last / head,
            )
            return last


def _clear_earlier(conn: sqlite3.Connection, started: float, budget: float | None) -> None:
    """Delete the rows of an index of an earlier layout, :data:`EARLIER_CHUNK` rows a
    transaction in the order of their address, within the budget; drop it when few are left."""
    while True:
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            if not _columns(conn, EARLIER):
                return
            cut = conn.execute(
                f"SELECT address FROM {EARLIER} ORDER BY address LIMIT 1 OFFSET ?",
                (EARLIER_CHUNK,),
            ).fetchone()
            if cut is None:
                conn.execute(f"DROP TABLE {EARLIER}")
                log.info("event store: the address index of the earlier layout is deleted")
                return
            conn.execute(f"DELETE FROM {EARLIER} WHERE address <= ?", cut)
        if budget is not None and time.monotonic() - started > budget:
            return


def _index(conn: sqlite3.Connection, selects: list[str], chunk: dict[str, int]) -> None:
    """Index one chunk of events (in the caller's transaction): one row an address and event,
    the bits of its fields summed (each once), and the counts of those rows added in."""
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {CHUNK_ROWS} "
        "(address, ts, seq, fields, agency COLLATE NOCASE)"
    )
    conn.execute(f"DELETE FROM {CHUNK_ROWS}")
    conn.execute(
        f"INSERT INTO {CHUNK_ROWS} SELECT address, ts, seq, SUM(DISTINCT bit), agency "
        f"FROM ({' UNION ALL '.join(selects)}) AS found GROUP BY address, seq",
        chunk,
    )
    conn.execute(
        f"INSERT OR IGNORE INTO {TABLE} (address, ts, seq, fields, agency) "
        f"SELECT address, ts, seq, fields, agency FROM {CHUNK_ROWS} ORDER BY 1, 2, 3"
    )
    conn.execute(
        f"INSERT INTO {COUNTS} (address, fields, agency, events, first, last) "
        f"SELECT address, fields, agency, COUNT(*), MIN(ts), MAX(ts) FROM {CHUNK_ROWS} "
        "WHERE true GROUP BY address, fields, agency ORDER BY 1, 2, 3 "
        "ON CONFLICT (address, fields, agency) DO UPDATE SET events = events + excluded.events, "
        "first = min(first, excluded.first), last = max(last, excluded.last)"
    )
    conn.execute(f"DELETE FROM {CHUNK_ROWS}")


def _caught_up(conn: sqlite3.Connection, events: str) -> bool:
    """Whether the index holds every event, read without the write lock (a search by address
    asks before each search, and mostly it does)."""
    sql = f"SELECT (SELECT seq FROM {UPTO}) >= (SELECT COALESCE(MAX(seq), 0) FROM {events})"
    return bool(conn.execute(sql).fetchone()[0])


def addresses(condition: Condition | None) -> list[str] | None:
    """Addresses one of which every event meeting ``condition`` holds in an address field,
    or None when no such list follows from it (then the search reads every event)."""
    if isinstance(condition, Equals):
        if condition.field.name in FIELDS and isinstance(condition.value, str):
            return [condition.value]
        return None
    if isinstance(condition, AnyOf):
        found: list[str] = []
        for part in condition.parts:
            some = addresses(part)
            if some is None:
                return None
            found += some
        return found
    if isinstance(condition, AllOf):
        narrowest: list[str] | None = None
        for part in condition.parts:
            some = addresses(part)
            if some is not None and (narrowest is None or len(some) < len(narrowest)):
                narrowest = some
        return narrowest
    return None


def one_address(condition: Condition | None) -> tuple[str, list[str]] | None:
    """The address and the fields of a condition that is one address in some address fields
    (an equality, or any of several, on the same address in any case), or None."""
    if isinstance(condition, Equals):
        value = condition.value
        if condition.field.name not in FIELDS or not isinstance(value, str):
            return None
        if value.startswith("[") or not value.isascii():
            return None  # a list as text could equal it whole; SQLite lowers ASCII only
        return value.lower(), [condition.field.name]
    if isinstance(condition, AnyOf) and condition.parts:
        found = [one_address(part) for part in condition.parts]
        if any(f is None for f in found):
            return None
        seen = {f[0] for f in found if f is not None}
        if len(seen) != 1:
            return None
        fields = [name for f in found if f is not None for name in f[1]]
        return seen.pop(), list(dict.fromkeys(fields))
    return None


def candidates_sql(events: str) -> str:
    """The FROM clause reading only the events the addresses of a JSON list (bound as one
    parameter) index, and every event the index does not hold yet; ``CROSS JOIN`` keeps
    SQLite from scanning the events instead."""
    return (
        f"(SELECT seq FROM {TABLE} WHERE address IN (SELECT lower(value) FROM json_each(?)) "
        f"UNION SELECT seq FROM {events} WHERE seq > (SELECT seq FROM {UPTO})) AS candidates "
        f"CROSS JOIN {events} ON {events}.seq = candidates.seq"
    )
