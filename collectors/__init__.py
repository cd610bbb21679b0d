"""The collectors: sources to enriched ECS events, shipped through a disk buffer to a sink.

``sources`` read files, interfaces and listeners; ``packets`` decode what was captured;
``enrich`` places events in the city; ``delivery`` buffers them and writes them to a sink.
"""

from pathlib import Path

from citysoc.core.native import NativeBuild

SAMPLES = Path(__file__).parent / "samples"
"""The bundled demo inputs: a pcap (and a truncated copy), EVE lines and syslog lines."""

# The EVE hot path, compiled with mypyc by `citysoc native` (it runs as Python without).
NATIVE = NativeBuild(
    __name__, Path(__file__).parent, ("sources.eve", "sources.eve_fields", "enrich", "related")
)
NATIVE.prefer_fresh()  # before any module is imported: a stale build is passed over
