"""ECS conformance of what the collectors make: run them on the bundled samples and hold every
event to the project's ECS reference (:mod:`citysoc.core.ecs_reference`: names, types,
categorization values)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from citysoc.core.ecs import Event
from citysoc.core.ecs_reference import problems
from citysoc.core.topology import Topology
from collectors.enrich import Enricher
from collectors.packets.pcap import read_pcap
from collectors.sources.eve import read_eve
from collectors.sources.syslog import read_syslog_file
from collectors.stats import CollectorStats
from releases.models import CheckResult

SAMPLES = Path(__file__).resolve().parent.parent / "collectors" / "samples"
Reader = Callable[[Path, CollectorStats], Iterator[Event]]
READERS: dict[str, Reader] = {".pcap": read_pcap, ".json": read_eve, ".log": read_syslog_file}
SHOWN = 20


def check_ecs(topology: Topology, default_agency: str, samples: Path = SAMPLES) -> CheckResult:
    """Every bundled sample through its collector and the enrichment, every event checked."""
    enrich = Enricher(topology, default_agency)
    failures: list[str] = []
    events = bad = refused = 0
    files = sorted(p for p in samples.iterdir() if p.suffix in READERS)
    for path in files:
        stats = CollectorStats()
        for number, event in enumerate(READERS[path.suffix](path, stats), start=1):
            events += 1
            found = problems(enrich(event))
            bad += bool(found)
            where = f"{path.name} event {number} ({event.get('event.dataset', '?')})"
            failures += [f"{where}: {p}" for p in found]
        refused += sum(stats.errors.values())
    if not files:
        failures.append(f"no collector samples in {samples}")
    shown = failures[:SHOWN] + (
        [f"... and {len(failures) - SHOWN} more"] if failures[SHOWN:] else []
    )
    return CheckResult(
        name="ecs-conformance",
        passed=not failures,
        detail=f"{events} events from {len(files)} samples, {bad} not conforming; "
        f"{refused} malformed records refused and counted by the collectors",
        failures=shown,
    )
