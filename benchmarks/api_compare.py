"""The API benchmark's searches timed alone, on one seeded state, by two versions of the code.

One SOC state is seeded as ``bench_api.py`` seeds it (100,000 alerts over the kept event
store, on SQLite and on a throwaway PostgreSQL database); then ``citysoc serve`` is started on
it from the older tree given with ``--before`` (a ``git archive`` of an earlier commit), and
afterwards from this tree, and the request kinds that used to read every alert or every event
(``?q=`` a word, ``?q=`` an address, the pivot of an address, ``/events?q=source.ip:``) are
each timed alone, one request at a time, with the server's CPU time per request. Same data,
same machine, minutes apart: the difference is the code.

Run:
    git archive COMMIT | tar -x -C /tmp/before
    ln -s "$PWD/benchmarks/out" /tmp/before/benchmarks/out
    .venv/bin/python benchmarks/api_compare.py --before /tmp/before [--state sqlite,postgresql]
        [--indexed]   # the rest of the mix (queue, filters, detail, incidents) instead
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_data import event_store
from bench_api import FULL_SCANS, alone, database, kinds, seed, server


@contextmanager
def code_of(tree: str | None) -> Iterator[None]:
    """Servers started within import ``tree``'s modules (``python -m`` puts the working
    directory first on the path, then ``PYTHONPATH``), or this tree's."""
    here, popen = Path.cwd(), subprocess.Popen

    def without_workers(command: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        # an older ``serve`` may not know ``--workers``: it runs one process anyway
        return popen([c for c in command if c not in ("--workers", "1")], **kw)

    if tree:
        os.environ["PYTHONPATH"] = tree
        os.chdir(tree)
        subprocess.Popen = without_workers  # type: ignore[assignment, misc]
    try:
        yield
    finally:
        os.chdir(here)
        os.environ.pop("PYTHONPATH", None)
        subprocess.Popen = popen  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="the older tree")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--state", default="sqlite,postgresql")
    parser.add_argument("--alone", type=int, default=10, help="requests per kind")
    parser.add_argument("--indexed", action="store_true",
                        help="the rest of the mix instead: queue, filters, detail")  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    store_path, events = event_store(args.events, as_far_as_built=True)
    print(f"event store {store_path}: {events:,} events")
    for backend in args.state.split(","):
        with tempfile.TemporaryDirectory(prefix="api-compare-") as tmp, database(backend) as url:
            state_url = url or f"sqlite:///{Path(tmp) / 'soc.db'}"
            started = time.perf_counter()
            seeded = seed(state_url, store_path, args.alerts, events, args.events)
            print(f"{backend}: seeded {args.alerts:,} alerts in "
                  f"{time.perf_counter() - started:.0f} s")  # fmt: skip
            for label, tree in (("before", str(args.before.resolve())), ("after", None)):
                data_dir = Path(tmp) / label
                data_dir.mkdir()
                with code_of(tree), server(data_dir, state_url, store_path) as (base, pid):
                    mix = [k for k in kinds(base, seeded)
                           if k["name"].startswith(FULL_SCANS) != args.indexed]  # fmt: skip
                    medians, cpu = alone(base, pid, mix, args.alone)
                for name, median in medians.items():
                    print(f"  {backend}, {label}: {name:<48} alone {median:>9.1f} ms, "
                          f"server CPU {cpu[name]:>8.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
