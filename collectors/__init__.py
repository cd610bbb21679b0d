"""The collectors: sources to enriched ECS events, shipped through a disk buffer to a sink."""

from pathlib import Path

from citysoc.core.native import NativeBuild

# The EVE hot path, compiled with mypyc by `citysoc native` (it runs as Python without).
NATIVE = NativeBuild(__name__, Path(__file__).parent, ("eve", "eve_fields", "enrich"))
NATIVE.prefer_fresh()  # before any module is imported: a stale build is passed over
