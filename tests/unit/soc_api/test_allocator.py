"""Memory freed inside the C allocator's heap goes back to the system after a trim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from soc_api.allocator import libc

PROBE = """
import sys
from pathlib import Path
from soc_api.allocator import release_free_memory

def anon_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])

blocks = [bytes(32 * 1024) for _ in range(3000)]  # about 94 MiB from malloc's heap
kept = blocks[::100]  # every hundredth stays, pinning the heap around the holes
del blocks
freed = anon_kib()
assert release_free_memory()
print(freed, anon_kib(), len(kept))
"""


def test_a_trim_gives_back_the_holes_a_run_leaves() -> None:
    lib = libc()
    if lib is None or not hasattr(lib, "malloc_trim") or not Path("/proc/self/status").exists():
        pytest.skip("not glibc on Linux: nothing to trim")
    answer = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    before, after, kept = (int(word) for word in answer.stdout.split())
    assert kept == 30
    assert before - after > 60 * 1024, (before, after)  # most of the 94 MiB freed
