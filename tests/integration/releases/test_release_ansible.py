"""Ansible refuses to deploy an unsigned or failing bundle: the sensor role's verification
tasks, run on this machine (connection local, nothing installed), on bundles the test built."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from citysoc.core.keys import private_pem, public_pem
from citysoc.core.settings import BUNDLED_TOPOLOGY
from citysoc.core.topology import load_topology
from releases.bundle import build_bundle
from releases.gate import GateInputs, run_gate
from releases.models import DECISION, GatePolicy

pytestmark = pytest.mark.integration

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
BIN = Path(sys.executable).parent
PLAY = """
- name: Verify the analytics bundle as a sensor's deploy does
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run the sensor role's release tasks
      ansible.builtin.include_role:
        name: suricata_sensor
        tasks_from: release
"""


def deploy(workdir: Path, bundle: Path | None, key: Path, required: bool = False) -> str:
    play = workdir / "verify.yml"
    play.write_text(PLAY, encoding="utf-8")
    extra = [
        "-e", f"suricata_sensor_release_bundle={bundle or ''}",
        "-e", f"suricata_sensor_release_public_key={key}",
        "-e", f"suricata_sensor_release_verifier={BIN / 'citysoc'}",
        "-e", f"suricata_sensor_release_required={str(required).lower()}",
        "-e", f"ansible_python_interpreter={sys.executable}",
    ]  # fmt: skip
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(PLAYBOOKS / "roles"), "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", str(play), *extra],
        capture_output=True, text=True, env=env, timeout=300, check=False, cwd=workdir,
    )  # fmt: skip
    return ("ok" if done.returncode == 0 else "refused") + "\n" + done.stdout + done.stderr


@pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="needs ansible-playbook")
def test_the_sensor_role_deploys_only_a_bundle_that_passed(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    (tmp_path / "release.pub").write_bytes(public_pem(key.public_key()))
    (tmp_path / "release.pem").write_bytes(private_pem(key))
    topology = load_topology(BUNDLED_TOPOLOGY)
    bundle = build_bundle(tmp_path / "out", topology).path
    public = tmp_path / "release.pub"

    unsigned = deploy(tmp_path, bundle, public)
    assert unsigned.startswith("refused") and "Refusing to deploy the analytics bundle" in unsigned
    assert "has no decision.json" in unsigned

    policy = GatePolicy(checks=["rule-proofs", "yara-proofs", "suricata-lint"])
    assert run_gate(bundle, policy, "test", GateInputs(topology), key).decision.passed
    assert deploy(tmp_path, bundle, public).startswith("ok")

    other = tmp_path / "other.pub"
    other.write_bytes(public_pem(Ed25519PrivateKey.generate().public_key()))
    wrong_key = deploy(tmp_path, bundle, other)
    assert wrong_key.startswith("refused") and "bad signature" in wrong_key

    failing = run_gate(bundle, GatePolicy(checks=["range-score"], range={"required": True}),
                       "test", GateInputs(topology), key).decision  # fmt: skip
    assert not failing.passed
    refused = deploy(tmp_path, bundle, public)
    assert refused.startswith("refused") and "the gate refused this bundle" in refused

    shutil.rmtree(bundle)
    assert deploy(tmp_path, None, public, required=True).startswith("refused")
    assert not (bundle / DECISION).exists()
