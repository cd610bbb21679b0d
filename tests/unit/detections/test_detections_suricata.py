"""The city's Suricata rules: the linter on good and broken rules, variables from the
topology, and per-segment rulesets built offline by suricata-update."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysoc.core.errors import RuleError
from citysoc.core.settings import Settings
from citysoc.core.topology import Topology, load_topology
from detections.engine.suricata_rules import (
    address_groups,
    build_ruleset,
    defined_variables,
    lint_files,
    rule_files,
    segment_confs,
    vars_yaml,
)

TOPOLOGY: Topology = load_topology(Settings().topology_path)
VARIABLES = defined_variables(TOPOLOGY)
GOOD = (
    'alert http any any -> $CAMERA_NET any (msg:"CITYSOC TEST rule"; flow:established,to_server; '
    'http.uri; content:"/x"; nocase; classtype:attempted-admin; sid:9199999; rev:1; '
    "metadata:attack_technique T1190, owner city-soc, runbook camera-exploit.md, "
    "severity high, citysoc_segment camera;)"
)


def _lint(tmp_path: Path, *lines: str) -> tuple[int, list[RuleError]]:
    path = tmp_path / "test.rules"
    path.write_text("# a comment\n\n" + "\n".join(lines) + "\n")
    rules, errors = lint_files([path], VARIABLES, Path("runbooks"))
    return len(rules), errors


def test_city_rules_lint_clean_with_at_least_25_rules() -> None:
    rules, errors = lint_files(rule_files(), VARIABLES)
    assert errors == []
    assert len(rules) >= 25
    assert all(r.msg.startswith("CITYSOC ") for r in rules)


def test_a_good_rule_passes(tmp_path: Path) -> None:
    assert _lint(tmp_path, GOOD) == (1, [])


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (GOOD.replace('msg:"CITYSOC TEST rule"', 'msg:"CITYSOC TEST rule'), "quotes"),
        (GOOD[:-1], "parentheses"),
        (GOOD.replace(" classtype:attempted-admin;", ""), "classtype"),
        (GOOD.replace(" rev:1;", ""), "'rev'"),
        (GOOD.replace("$CAMERA_NET", "$CAMERA_NETS"), "undefined variable $CAMERA_NETS"),
        (
            GOOD.replace('http.uri; content:"/x"; nocase;', 'http.uri; nocase; content:"/x";'),
            "'nocase' has no content",
        ),
        (GOOD.replace("sid:9199999", "sid:2000001"), "project range"),
        (GOOD.replace(" owner city-soc,", ""), "metadata lacks owner"),
        (GOOD.replace("camera-exploit.md", "missing.md"), "runbook"),
        (GOOD.replace("alert http", "alarm http"), "not a rule"),
    ],
)
def test_broken_rules_are_reported_with_file_and_line(
    tmp_path: Path, broken: str, message: str
) -> None:
    count, errors = _lint(tmp_path, broken)
    assert count == 0 and len(errors) == 1
    assert message in str(errors[0])
    assert errors[0].location is not None and errors[0].location.line == 3


def test_duplicate_sids_are_refused(tmp_path: Path) -> None:
    count, errors = _lint(tmp_path, GOOD, GOOD.replace("TEST rule", "TEST other"))
    assert count == 1
    assert "sid 9199999 also used" in str(errors[0]) and errors[0].location.line == 4  # type: ignore[union-attr]


def test_variables_come_from_the_topology() -> None:
    groups = address_groups(TOPOLOGY)
    cameras = [str(s.cidr) for s in TOPOLOGY.model.segments if s.kind == "camera"]
    assert groups["CAMERA_NET"] == "[" + ",".join(cameras) + "]"
    vms = [f"{h.address}/32" for h in TOPOLOGY.model.hosts if h.role in ("vms", "nvr")]
    assert groups["VMS_SERVERS"] == "[" + ",".join(vms) + "]"
    assert groups["EXTERNAL_NET"] == "!$HOME_NET"
    text = vars_yaml(TOPOLOGY)
    assert text.startswith("vars:\n  address-groups:\n") and "  port-groups:\n" in text


def test_unknown_segment_is_refused() -> None:
    with pytest.raises(RuleError, match="unknown segment"):
        segment_confs(TOPOLOGY, "nowhere")


def _active(path: Path) -> dict[int, str]:
    rules = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            sid = int(line.split("sid:", 1)[1].split(";", 1)[0])
            rules[sid] = line.split(" ", 1)[0]
    return rules


def _expected(segment: str) -> dict[int, str]:
    seg = TOPOLOGY.segments[segment]
    rules, _ = lint_files(rule_files(), VARIABLES)
    wanted = {}
    for rule in rules:
        if rule.metadata["citysoc_segment"] in (seg.kind, "any"):
            drop = seg.security_level >= 4 and rule.metadata.get("citysoc_ips") == "drop"
            wanted[rule.sid] = "drop" if drop else "alert"
    return wanted


@pytest.mark.parametrize("segment", ["cam-d1", "ics-flood"])
def test_build_produces_the_segment_ruleset(tmp_path: Path, segment: str) -> None:
    merged = build_ruleset(TOPOLOGY, segment, tmp_path / "out")
    active = _active(merged)
    assert active == _expected(segment)
    assert len(active) >= 10
    if TOPOLOGY.segments[segment].security_level >= 4:
        assert "drop" in active.values()
    else:
        assert set(active.values()) == {"alert"}
