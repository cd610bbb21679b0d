"""What indexing events by address costs, and where: at ingest or after it.

The same events (city flows, DNS, HTTP, RTSP and sshd events of the API benchmark, each with
``related.ip``) are written through ``SqliteEventStore.write`` in batches of 2,000 into fresh
stores: as the store is (its address index is caught up after ingest, not at it); with plain
indexes on ``source.ip`` and ``destination.ip``; and with a trigger writing every address
into ``event_addresses`` at insert (what an index kept at ingest costs). Then the store's own
catch-up (``SqliteEventStore.index_addresses``) indexes the first store's events in bulk.
Each is printed as events/s and CPU µs per event; ``--rounds`` repeats them (medians).

Run: .venv/bin/python benchmarks/bench_addresses.py [--events 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_data import city_event

from citysoc.core.ecs import Event
from eventstore import addresses
from eventstore.sqlite import TABLE, SqliteEventStore

BATCH = 2_000


def trigger(store: SqliteEventStore) -> None:
    """Every address of every event written into the address table at insert (one row an
    address and event, as the catch-up writes them)."""
    selects = [
        s.replace("events AS NEW, ", "", 1).replace(" FROM events AS NEW", "", 1)
        for field, column in addresses.address_columns(store._columns.values())
        for s in addresses._selects(field, column, "NEW", TABLE)
    ]
    store.conn.execute(
        f"CREATE TRIGGER events_addresses AFTER INSERT ON {TABLE} BEGIN INSERT OR IGNORE INTO "
        f"{addresses.TABLE} (address, ts, seq, fields, agency) SELECT address, ts, seq, "
        f"SUM(DISTINCT bit), agency FROM ({' UNION ALL '.join(selects)}) GROUP BY address; END"
    )


def column_indexes(store: SqliteEventStore) -> None:
    for n, column in enumerate(("source.ip", "destination.ip")):
        store.conn.execute(
            f'CREATE INDEX events_ip{n} ON {TABLE} ("{column}") WHERE "{column}" IS NOT NULL'
        )


VARIANTS: dict[str, Callable[[SqliteEventStore], None] | None] = {
    "store.write, index caught up later (as shipped)": None,
    "store.write + indexes on source.ip, destination.ip": column_indexes,
    "store.write + trigger into the address table": trigger,
}


def write(
    events: list[Event], prepare: Callable[[SqliteEventStore], None] | None, path: Path
) -> tuple[SqliteEventStore, float, float]:
    store = SqliteEventStore(path)
    store.write(events[:BATCH])  # the columns exist before the variant's index or trigger
    if prepare is not None:
        prepare(store)
        store.conn.commit()
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(BATCH, len(events), BATCH):
        store.write(events[start : start + BATCH])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return store, (len(events) - BATCH) / wall, cpu * 1e6 / (len(events) - BATCH)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    events = []
    for i in range(args.events):
        event = city_event(i, args.events)
        event["related.ip"] = [event["source.ip"], event["destination.ip"]]
        events.append(event)
    results: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="bench-addresses-") as tmp:
            for n, (name, prepare) in enumerate(VARIANTS.items()):
                store, rate, cpu = write(events, prepare, Path(tmp) / f"{n}.db")
                results.setdefault(name, []).append((rate, cpu))
                if prepare is None:
                    wall, used = time.perf_counter(), time.process_time()
                    store.index_addresses()
                    wall, used = time.perf_counter() - wall, time.process_time() - used
                    name = "catch-up of the address index afterwards (bulk)"
                    results.setdefault(name, []).append(
                        (args.events / wall, used * 1e6 / args.events)
                    )
                store.close()
    print(f"{args.events:,} events, batches of {BATCH:,}, median of {args.rounds} round(s)")
    for name, figures in results.items():
        rate = statistics.median(r for r, _ in figures)
        cpu = statistics.median(c for _, c in figures)
        print(f"  {name:<52} {rate:>9,.0f} events/s {cpu:>6.1f} µs CPU/event")


if __name__ == "__main__":
    main()
