"""Every rule stays quiet on a benign day of city traffic, except reviewed false positives."""

from __future__ import annotations

from collections import Counter
from datetime import date
from functools import cache

from citysoc.core.ecs import Event
from citysoc.core.settings import BUNDLED_TOPOLOGY
from citysoc.core.topology import load_topology
from collectors.enrich import Enricher
from detections.engine.baseline import KnownFalsePositive, check_baseline, load_known
from detections.engine.catalog import load_catalog
from detections.engine.compiler import compile_catalog
from scenarios.baseline import baseline_events


@cache
def events() -> tuple[Event, ...]:
    enrich = Enricher(load_topology(BUNDLED_TOPOLOGY), "dic")
    return tuple(enrich(e) for e in baseline_events())


def rules():  # type: ignore[no-untyped-def]
    compiled = compile_catalog(load_catalog())
    assert compiled.errors == []
    return compiled.rules


def test_baseline_is_the_benign_city_the_issue_describes() -> None:
    data = Counter(e.get("event.dataset") for e in events())
    assert data["network_traffic.rtsp"] >= 100  # the VMS pulling streams
    assert data["vms.audit"] >= 6  # operators logging in at shift change
    assert data["network_traffic.dns"] >= 100 and data["network_traffic.http"] >= 20
    modbus = {e.get("modbus.function_code") for e in events() if "modbus.function_code" in e}
    assert modbus <= {3, 4}  # reads only, from the SCADA server
    assert not any(e.get("event.kind") == "alert" for e in events())


def test_every_rule_stays_quiet_on_the_baseline() -> None:
    report = check_baseline(list(events()), rules(), load_known())
    assert report.unexplained == {}, "new false positives: review or fix the rules"
    assert report.stale == [], "listed false positives that no longer fire: remove them"


def test_a_noisy_rule_is_caught_and_a_stale_entry_reported() -> None:
    compiled = rules()
    telnet = next(r for r in compiled if r.name == "lateral_movement_telnet_from_camera")
    noisy = type(telnet)(
        **{**telnet.__dict__, "name": "noisy", "sql": "SELECT * FROM detection_scope"}
    )
    stale = KnownFalsePositive(
        rule="gone",
        max_hits=1,
        justification="an entry for a rule that no longer fires",
        reviewed=date(2026, 11, 22),
    )
    report = check_baseline(list(events()), [noisy], {"gone": stale})
    assert report.unexplained == {"noisy": len(events())}
    assert report.stale == ["gone"]
