"""The C allocator under the SOC API: give back the memory a detection run freed.

A detection run builds and drops tens of megabytes of rows, hits and evidence, and SQLite's
page cache is emptied and filled again as the collectors write. glibc's malloc keeps what
is freed inside its arenas for reuse, and much of it cannot be returned by trimming only the
top of a heap: in a soak the API held 100-700 MB free this way (``docs/benchmarks.md``,
Soak). ``malloc_trim(0)`` hands the free pages of every arena back to the system; after each
run that read events it costs a few milliseconds. Elsewhere (another C library) it does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

log = logging.getLogger(__name__)


@cache
def libc() -> ctypes.CDLL | None:
    """The C library, or ``None`` where it cannot be loaded."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def release_free_memory() -> bool:
    """Return the allocator's free pages to the system; whether it could (glibc only)."""
    lib = libc()
    if lib is None or not hasattr(lib, "malloc_trim"):
        return False
    lib.malloc_trim.argtypes = [ctypes.c_size_t]
    lib.malloc_trim.restype = ctypes.c_int
    lib.malloc_trim(0)
    return True
