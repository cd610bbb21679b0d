"""The embedded store's address index: which events hold which address, beside the events.

Searches by address (``source.ip:203.0.113.7``, a pivot on an address) would otherwise read
every event: the address columns are not indexed, and ``related.ip`` holds lists. The table
``event_addresses`` keeps ``(address, seq)`` for each value of each ECS address field of each
event (each element of a list), lowercased as the columns compare (``COLLATE NOCASE``).

It is not written at ingest: any index there costs every insert (6-16 µs of CPU an event
measured, as much again as storing it). It is caught up afterwards, in bulk, by whoever
searches (:func:`catch_up`, from the oldest events not yet indexed, in transactions of
:data:`CHUNK` events, within a time budget) or by ``SqliteEventStore.index_addresses``; the
table ``event_addresses_upto`` says up to which ``seq`` it holds every event. A search reads
the events the index gives for its addresses plus every event after that point, so its
answers never depend on how far the index has come. Events are never updated or deleted, and
``seq`` only grows (the checkpoint of detections relies on it too).

A search whose condition can only hold for events holding some addresses (an equality on an
address field, any of several such, or one such among other conditions all required) reads
those candidates, then tests its whole condition on them: the index narrows, the condition
decides, so the answers are those of a scan.
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
CHUNK = 50_000
FIELDS = (
    "source.ip",
    "destination.ip",
    "client.ip",
    "server.ip",
    "host.ip",
    "related.ip",
    "dns.resolved_ip",
)
"""The ECS fields of type ``ip``: what the index holds and the searches it narrows."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _selects(column: str, row: str, table: str) -> list[str]:
    """The address values of one column of each row of ``table``: the value itself, or each
    element of a JSON list (how lists are stored: :func:`eventstore.sqlite.elements_sql`)."""
    c = f"{row}.{_quote(column)}"
    is_list = f"(substr({c}, 1, 1) = '[' AND json_valid({c}))"
    rows = f" FROM {table} AS {row}"
    joined = f"{table} AS {row}, "
    return [
        f"SELECT lower({c}), {row}.seq{rows} WHERE {c} IS NOT NULL AND NOT {is_list}",
        f"SELECT lower(element.value), {row}.seq FROM {joined}json_each(CASE WHEN {is_list} "
        f"THEN {c} ELSE '[]' END) AS element WHERE substr({c}, 1, 1) = '[' "
        "AND element.value IS NOT NULL",
    ]


def address_columns(columns: Iterable[str]) -> list[str]:
    """The address fields among a table's column names, in :data:`FIELDS` order."""
    present = {c.lower(): c for c in columns}
    return [present[f] for f in FIELDS if f in present]


def ensure(conn: sqlite3.Connection) -> None:
    """Create the index's tables, once (empty: :func:`catch_up` fills them)."""
    made = conn.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
        (TABLE, UPTO),
    ).fetchone()[0]
    if made == 2:
        return  # no write lock taken to open a store that has them
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (address TEXT NOT NULL, seq INTEGER NOT NULL, "
            "PRIMARY KEY (address, seq)) WITHOUT ROWID"
        )
        conn.execute(f"CREATE TABLE IF NOT EXISTS {UPTO} (seq INTEGER NOT NULL)")
        if conn.execute(f"SELECT COUNT(*) FROM {UPTO}").fetchone()[0] == 0:
            conn.execute(f"INSERT INTO {UPTO} (seq) VALUES (0)")


def catch_up(conn: sqlite3.Connection, events: str, *, budget: float | None = None) -> int:
    """Index the events stored since the index was last caught up, :data:`CHUNK` at a time,
    each chunk its own transaction (writers wait for one chunk at most), until the newest
    event or until ``budget`` seconds have passed; the ``seq`` it now holds every event up to."""
    started = time.monotonic()
    while True:
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            upto = int(conn.execute(f"SELECT seq FROM {UPTO}").fetchone()[0])
            head = int(conn.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {events}").fetchone()[0])
            if upto >= head:
                return upto
            last = min(head, upto + CHUNK)
            names = [row[1] for row in conn.execute(f"PRAGMA table_info({events})")]
            selects = [
                s.replace(" WHERE ", " WHERE e.seq > :upto AND e.seq <= :last AND ", 1)
                for column in address_columns(names)
                for s in _selects(column, "e", events)
            ]
            if selects:
                conn.execute(
                    f"INSERT OR IGNORE INTO {TABLE} (address, seq) "
                    f"{' UNION ALL '.join(selects)} ORDER BY 1, 2",
                    {"upto": upto, "last": last},
                )
            conn.execute(f"UPDATE {UPTO} SET seq = ?", (last,))
        if last >= head or (budget is not None and time.monotonic() - started > budget):
            log.debug("event store: addresses indexed up to %d of %d", last, head)
            return last


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


def candidates_sql(events: str) -> str:
    """The FROM clause reading only the events the addresses of a JSON list (bound as one
    parameter) index, and every event the index does not hold yet; ``CROSS JOIN`` keeps
    SQLite from scanning the events instead."""
    return (
        f"(SELECT seq FROM {TABLE} WHERE address IN (SELECT lower(value) FROM json_each(?)) "
        f"UNION SELECT seq FROM {events} WHERE seq > (SELECT seq FROM {UPTO})) AS candidates "
        f"CROSS JOIN {events} ON {events}.seq = candidates.seq"
    )
