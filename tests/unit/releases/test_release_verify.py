"""Verification refuses a tampered file, a decision for another bundle, a wrong key and a
failing decision; it accepts a gated bundle as it was built."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from citysoc.cli.main import main
from releases.bundle import installed_differences
from releases.models import DECISION, GateDecision
from releases.signing import read_manifest, sign_decision, verify_release
from tests.unit.releases.conftest import BROKEN_RULE, Keys


@pytest.fixture
def copy(passed: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(passed, tmp_path / passed.name))


def test_a_gated_bundle_verifies(passed: Path, keys: Keys) -> None:
    assert verify_release(passed, keys.public_path) == []
    assert main(["release", "verify", str(passed), "--public-key", str(keys.public_path)]) == 0


def test_a_changed_file_is_named(copy: Path, keys: Keys) -> None:
    rule = next((copy / "detections" / "sigma").glob(f"*/{BROKEN_RULE}/rule.yml"))
    rule.write_text(rule.read_text(encoding="utf-8") + "\n# harmless?\n", encoding="utf-8")
    (copy / "compiled" / "extra.sql").write_text("SELECT 1\n", encoding="utf-8")
    (copy / "engine" / "ingest-pipeline.json").unlink()
    problems = verify_release(copy, keys.public_path)
    relative = rule.relative_to(copy).as_posix()
    assert f"{relative}: changed since the bundle was built" in problems
    assert "compiled/extra.sql: not in the manifest" in problems
    assert "engine/ingest-pipeline.json: missing" in problems


def test_a_decision_for_another_bundle_is_refused(copy: Path, refused: Path, keys: Keys) -> None:
    shutil.copyfile(refused / DECISION, copy / DECISION)
    problems = verify_release(copy, keys.public_path)
    assert any(p.startswith(f"{DECISION} is for bundle ") for p in problems), problems


def test_a_decision_signed_by_another_key_is_refused(copy: Path, keys: Keys) -> None:
    other = Ed25519PrivateKey.generate()
    assert any("bad signature" in p for p in verify_release(copy, other.public_key()))
    decision = GateDecision.model_validate_json((copy / DECISION).read_bytes())
    resigned = sign_decision(decision, other)  # a valid signature, by the wrong key
    (copy / DECISION).write_text(resigned.model_dump_json(by_alias=True), encoding="utf-8")
    assert any("bad signature" in p for p in verify_release(copy, keys.public_path))
    assert verify_release(copy, other.public_key()) == []


def test_an_edited_decision_is_refused(copy: Path, keys: Keys, refused: Path) -> None:
    failing = GateDecision.model_validate_json((refused / DECISION).read_bytes())
    forged = failing.model_copy(update={"passed": True})
    (refused.parent / "forged.json").write_text(forged.model_dump_json(by_alias=True))
    shutil.copyfile(refused.parent / "forged.json", copy / DECISION)
    problems = verify_release(copy, keys.public_path)
    assert any("bad signature" in p for p in problems)


def test_a_failing_decision_is_refused_with_what_failed(refused: Path, keys: Keys) -> None:
    problems = verify_release(refused, keys.public_path)
    assert problems == ["the gate refused this bundle (failed: rule-proofs)"]
    assert main(["release", "verify", str(refused), "--public-key", str(keys.public_path)]) == 1


def test_no_decision_at_all_is_refused(copy: Path, keys: Keys) -> None:
    (copy / DECISION).unlink()
    problems = verify_release(copy, keys.public_path)
    assert len(problems) == 1 and "has no decision.json" in problems[0]


def test_the_installed_rules_are_compared_with_the_bundle(passed: Path, refused: Path) -> None:
    assert installed_differences(read_manifest(passed)) == []
    assert installed_differences(read_manifest(refused)) == [
        f"detections/sigma/cameras/{BROKEN_RULE}/rule.yml: installed rule differs from the bundle's"
    ]


def test_keygen_makes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    key = tmp_path / "release.pem"
    assert main(["release", "keygen", "--out", str(key)]) == 0
    assert key.stat().st_mode & 0o777 == 0o600 and key.with_suffix(".pub").is_file()
    assert main(["release", "keygen", "--out", str(key)]) == 2  # never overwrites a key


def test_the_gate_refuses_a_signing_key_others_can_read(passed: Path, keys: Keys) -> None:
    keys.private_path.chmod(0o644)
    try:
        assert main(["release", "gate", str(passed), "--key", str(keys.private_path)]) == 2
    finally:
        keys.private_path.chmod(0o600)


def test_a_bundle_built_by_another_citysoc_is_refused(copy: Path, keys: Keys) -> None:
    from citysoc.core.settings import BUNDLED_TOPOLOGY
    from citysoc.core.topology import load_topology
    from releases.gate import GateInputs, run_gate
    from releases.models import MANIFEST, GatePolicy

    manifest = read_manifest(copy)
    older = manifest.model_copy(update={"citysoc_version": "0.0.1"})
    (copy / MANIFEST).write_text(older.model_dump_json(by_alias=True), encoding="utf-8")
    inputs = GateInputs(load_topology(BUNDLED_TOPOLOGY))
    decision = run_gate(copy, GatePolicy(checks=[]), "none", inputs, keys.private).decision
    assert not decision.passed
    assert "built by citysoc 0.0.1" in decision.failed()[0].failures[0]


def test_a_rules_map_that_is_not_the_bundles_rules_is_refused(copy: Path, keys: Keys) -> None:
    from releases.models import MANIFEST

    manifest = read_manifest(copy)
    rules = {**manifest.rules, BROKEN_RULE: "0" * 64}  # a changelog could then lie
    edited = manifest.model_copy(update={"rules": rules})
    (copy / MANIFEST).write_text(edited.model_dump_json(by_alias=True), encoding="utf-8")
    assert verify_release(copy, keys.public_path) == [
        "manifest.json: its rules map is not the bundle's rule files"
    ]
