"""Bundles built once per test session: the current rules, and a copy with one rule broken."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from citysoc.core.keys import private_pem, public_pem
from citysoc.core.settings import BUNDLED_TOPOLOGY
from citysoc.core.topology import Topology, load_topology
from detections.engine.catalog import RULES_ROOT
from releases.bundle import RULE_KINDS, BuiltBundle, build_bundle
from releases.gate import GateInputs, run_gate
from releases.models import GatePolicy

BROKEN_RULE = "initial_access_hikvision_cve_2017_7921"
BACKDOOR = "auth=YWRtaW46MTEK"


@dataclass(frozen=True)
class Keys:
    private: Ed25519PrivateKey
    private_path: Path
    public_path: Path


@pytest.fixture(scope="session")
def topology() -> Topology:
    return load_topology(BUNDLED_TOPOLOGY)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    key = Ed25519PrivateKey.generate()
    (folder / "release.pem").write_bytes(private_pem(key))
    (folder / "release.pub").write_bytes(public_pem(key.public_key()))
    return Keys(key, folder / "release.pem", folder / "release.pub")


@pytest.fixture(scope="session")
def current(tmp_path_factory: pytest.TempPathFactory, topology: Topology) -> BuiltBundle:
    return build_bundle(tmp_path_factory.mktemp("current"), topology)


@pytest.fixture(scope="session")
def broken(
    tmp_path_factory: pytest.TempPathFactory, topology: Topology, current: BuiltBundle
) -> BuiltBundle:
    """The rules tree with one rule's detection changed so that its match samples no longer
    match; built against the current bundle, so its changelog names that rule."""
    rules = tmp_path_factory.mktemp("rules")
    for kind in RULE_KINDS:
        shutil.copytree(RULES_ROOT / kind, rules / kind)
    rule = next((rules / "sigma").glob(f"*/{BROKEN_RULE}/rule.yml"))
    text = rule.read_text(encoding="utf-8")
    assert BACKDOOR in text
    rule.write_text(text.replace(BACKDOOR, "auth=NOT-THE-BACKDOOR"), encoding="utf-8")
    out = tmp_path_factory.mktemp("broken")
    return build_bundle(out, topology, rules_root=rules, previous=current.path)


FAST = GatePolicy(checks=["rule-proofs", "yara-proofs", "suricata-lint"])


@pytest.fixture(scope="session")
def passed(current: BuiltBundle, keys: Keys, topology: Topology) -> Path:
    """The current bundle with a passing decision (the rule checks only: fast)."""
    decision = run_gate(current.path, FAST, "fast", GateInputs(topology), keys.private).decision
    assert decision.passed, [c.failures for c in decision.failed()]
    return current.path


@pytest.fixture(scope="session")
def refused(broken: BuiltBundle, keys: Keys, topology: Topology) -> Path:
    decision = run_gate(broken.path, FAST, "fast", GateInputs(topology), keys.private).decision
    assert not decision.passed
    return broken.path
