from pathlib import Path

import pytest

from citysoc.core.errors import TopologyError
from citysoc.core.topology import Topology, load_topology


def test_example_city_places_addresses(topology: Topology) -> None:
    cam = topology.locate("10.31.0.21")
    assert cam is not None
    assert (cam.segment, cam.agency, cam.kind, cam.security_level) == ("cam-d1", "d1", "camera", 2)
    plc = topology.locate("10.40.0.5")
    assert plc is not None and (plc.agency, plc.kind) == ("drainage", "ics")
    assert topology.locate("203.0.113.50") is None
    assert topology.locate("not-an-ip") is None


def test_example_city_has_what_the_design_names(topology: Topology) -> None:
    kinds = {s.kind for s in topology.segments.values()}
    assert kinds == {"datacentre", "ioc", "camera", "ics", "soc", "management"}
    cameras = {s.agency for s in topology.segments.values() if s.kind == "camera"}
    assert len(cameras) == 2
    assert next(iter(topology.flows_between("ioc", "cam-d1"))).ports == (554, 80)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "city.yml"
    path.write_text(text)
    return path


BASE = """
city: Test
agencies: [{id: aa, name: A}]
segments:
  - {id: one, name: One, kind: soc, agency: aa, cidr: 10.0.0.0/24, security_level: 3}
"""


def test_overlapping_segments_are_refused(tmp_path: Path) -> None:
    text = (
        BASE
        + "  - {id: two, name: Two, kind: soc, agency: aa, cidr: 10.0.0.128/25,"
        + " security_level: 3}\n"
    )
    with pytest.raises(TopologyError, match="overlap"):
        load_topology(_write(tmp_path, text))


def test_unknown_agency_and_host_bits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="unknown agency"):
        load_topology(_write(tmp_path, BASE.replace("agency: aa", "agency: zz")))
    with pytest.raises(TopologyError, match="cidr"):
        load_topology(_write(tmp_path, BASE.replace("10.0.0.0/24", "10.0.0.1/24")))


def test_yaml_errors_carry_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(TopologyError) as info:
        load_topology(_write(tmp_path, BASE + "  - {id: [broken\n"))
    assert info.value.location is not None and info.value.location.line is not None


def test_flows_must_name_known_segments(tmp_path: Path) -> None:
    text = (
        BASE + "flows:\n  - {from: one, to: nowhere, protocol: tcp, ports: [1], description: x}\n"
    )
    with pytest.raises(TopologyError, match="nowhere"):
        load_topology(_write(tmp_path, text))
