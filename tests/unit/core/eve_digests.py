"""Print, as JSON, the modules used and the SHA-256 of each enriched event of an EVE file.

Run by ``test_core_native.py`` once on the compiled modules and once on a copy of the sources.
"""

import gzip
import hashlib
import json
import sys

from citysoc.core.errors import Location
from citysoc.core.settings import BUNDLED_TOPOLOGY
from collectors import enrich, related
from collectors.sources import eve, eve_fields
from collectors.stats import CollectorStats


def digests(path: str) -> list[str]:
    enricher = enrich.enricher_for(BUNDLED_TOPOLOGY, "dic")
    stats = CollectorStats()
    out = []
    with gzip.open(path) as lines:
        for n, raw in enumerate(lines, start=1):
            event = eve.parse_eve_bytes(raw, Location("golden", line=n), stats)
            text = json.dumps(event if event is None else enricher(event), sort_keys=True)
            out.append(hashlib.sha256(text.encode()).hexdigest())
    return out


if __name__ == "__main__":
    files = [module.__file__ for module in (eve, eve_fields, enrich, related)]
    print(json.dumps({"files": files, "digests": digests(sys.argv[1])}))
