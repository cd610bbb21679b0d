"""Debugging: where the SOC API's memory goes, written down at intervals while it serves.

Off unless ``CITYSOC_DEBUG_MEMORY_SECONDS`` is set. Then every that many seconds, and at
once on ``SIGUSR1``, a background thread appends one JSON line to
``data_dir/debug/memory.jsonl`` with the process's resident memory and threads, glibc
malloc's totals (in use, held free), the memory SQLite's own allocator holds (page caches
of every connection), the open files by name (each SQLite connection holds its database
file open: their count is the number of connections), the objects by type and the probes the
app names (cache sizes). With ``CITYSOC_DEBUG_TRACEMALLOC_FRAMES`` above 0 (the default,
10) tracemalloc also runs, its traced total goes in the line and the allocators that grew
most since the first report, by traceback, go to ``memory-<pid>-<n>.txt`` beside it. Each
line names its process (``serve --workers`` runs several).

Reading the two together tells the Python heap from native memory: resident memory that
grows while tracemalloc's total stays flat is memory outside Python's objects (SQLite, or
what malloc keeps free and cannot give back).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from soc_api import allocator

if TYPE_CHECKING:
    from soc_api.context import SocContext

log = logging.getLogger(__name__)

TOP_TYPES = 30
TOP_ALLOCATORS = 25
Probe = Callable[[], object]


class _MallInfo2(ctypes.Structure):
    _fields_ = [  # the C struct's layout (glibc 2.33+)
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _library(name: str) -> ctypes.CDLL | None:
    found = ctypes.util.find_library(name)
    try:
        return ctypes.CDLL(found) if found else None
    except OSError:
        return None


def malloc_totals() -> dict[str, int]:
    """glibc's heap: bytes in use, bytes held free in its arenas, bytes in large mappings
    (empty where the C library has no ``mallinfo2``)."""
    libc = allocator.libc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return {}
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return {"malloc_used": info.uordblks, "malloc_free": info.fordblks, "mmapped": info.hblkhd}


def sqlite_memory() -> int | None:
    """Bytes SQLite's allocator holds in this process (every connection's page cache,
    statements, temporary tables in memory), or ``None`` where it cannot be read."""
    lib = _library("sqlite3")
    if lib is None:
        return None
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return int(lib.sqlite3_memory_used())


def proc_status() -> dict[str, int]:
    """Resident memory (KiB) and threads from ``/proc/self/status`` (empty elsewhere)."""
    wanted = {"VmRSS": "rss_kib", "RssAnon": "anon_kib", "Threads": "threads"}
    found: dict[str, int] = {}
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return found
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            found[wanted[key]] = int(value.split()[0])
    return found


def open_files(suffixes: tuple[str, ...] = (".db",)) -> dict[str, int]:
    """How many descriptors this process holds on each file ending in ``suffixes``."""
    counts: Counter[str] = Counter()
    fds = Path("/proc/self/fd")
    try:
        entries = list(fds.iterdir())
    except OSError:
        return {}
    for entry in entries:
        try:
            target = str(entry.readlink())
        except OSError:
            continue
        if target.endswith(suffixes):
            counts[target] += 1
    return dict(counts)


def objects_by_type(top: int = TOP_TYPES) -> dict[str, int]:
    """The most numerous kinds of objects the garbage collector tracks."""
    counts = Counter(type(obj).__qualname__ for obj in gc.get_objects())
    return dict(counts.most_common(top))


class MemoryReport:
    """The background writer of the reports (see the module)."""

    def __init__(
        self,
        directory: Path,
        interval: float,
        *,
        frames: int = 10,
        probes: Mapping[str, Probe] | None = None,
    ) -> None:
        self.directory = directory
        self.interval = interval
        self.frames = frames
        self.probes = dict(probes or {})
        self.written = 0
        self._baseline: tracemalloc.Snapshot | None = None
        self._now = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.frames and not tracemalloc.is_tracing():
            tracemalloc.start(self.frames)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGUSR1, self._on_signal)
        self._thread = threading.Thread(target=self._run, name="memory-report", daemon=True)
        self._thread.start()
        log.warning("memory reports every %.0f s in %s (debugging)", self.interval, self.directory)

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self._now.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.write()
            except Exception:  # a failed report never stops the SOC
                log.exception("memory report failed")
            self._now.wait(self.interval)
            self._now.clear()

    def stop(self) -> None:
        self._stop.set()
        self._now.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.frames and tracemalloc.is_tracing():
            tracemalloc.stop()

    def sample(self) -> dict[str, Any]:
        """One report's figures."""
        line: dict[str, Any] = {"time": round(time.time(), 1), "pid": os.getpid()}
        line.update(proc_status())
        line.update(malloc_totals())
        line["sqlite_bytes"] = sqlite_memory()
        line["python_blocks"] = sys.getallocatedblocks()
        if tracemalloc.is_tracing():
            line["traced_bytes"], line["traced_peak"] = tracemalloc.get_traced_memory()
        line["open_files"] = open_files()
        for name, probe in self.probes.items():
            try:
                line[name] = probe()
            except Exception as exc:  # a probe of a closed object: reported, not fatal
                line[name] = f"error: {exc}"
        line["objects"] = objects_by_type()
        return line

    def write(self) -> dict[str, Any]:
        line = self.sample()
        with (self.directory / "memory.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, default=str) + "\n")
        if tracemalloc.is_tracing():
            self._write_growth()
        self.written += 1
        return line

    def _write_growth(self) -> None:
        ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
        snapshot = tracemalloc.take_snapshot().filter_traces(ignore)
        if self._baseline is None:
            self._baseline = snapshot
            return
        growth = snapshot.compare_to(self._baseline, "traceback")[:TOP_ALLOCATORS]
        lines = [f"memory report {self.written}: allocators grown most since the first report"]
        for stat in growth:
            lines.append(
                f"\n{stat.size_diff / 1024:+.1f} KiB, {stat.count_diff:+d} blocks "
                f"(now {stat.size / 1024:.1f} KiB in {stat.count} blocks)"
            )
            lines.extend("    " + frame for frame in stat.traceback.format())
        path = self.directory / f"memory-{os.getpid()}-{self.written:04d}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _candidates(ctx: SocContext) -> int | str:
    """Rows in the correlations' kept candidates (0 without them, e.g. on an engine); "busy"
    when the store stays locked (a report never waits on a detection run)."""
    from detections.engine.correlation_scope import CANDIDATES
    from detections.engine.runner import DetectionRunner

    runner = ctx.scheduler.runner
    if not isinstance(runner, DetectionRunner) or runner.candidates.covered_from is None:
        return 0
    if not runner.store.lock.acquire(timeout=5):
        return "busy"
    try:
        row = runner.store.conn.execute(f"SELECT COUNT(*) FROM temp.{CANDIDATES}").fetchone()  # noqa: S608
    finally:
        runner.store.lock.release()
    return int(row[0])


def start_memory_report(ctx: SocContext) -> MemoryReport | None:
    """The report the settings ask for, started, with the SOC's caches as probes."""
    from soc_api.alerts.queries import TOTALS
    from soc_api.incidents.service import INCIDENTS

    settings = ctx.settings
    if not settings.debug_memory_seconds:
        return None
    pool = ctx.sessions.kw["bind"].pool  # the SOC state's connections
    report = MemoryReport(
        settings.data_dir / "debug",
        settings.debug_memory_seconds,
        frames=settings.debug_tracemalloc_frames,
        probes={
            "incident_cache_entries": lambda: len(INCIDENTS),
            "alert_total_entries": lambda: len(TOTALS),
            "correlation_candidates": lambda: _candidates(ctx),
            "state_pool": pool.status,
        },
    )
    report.start()
    return report
