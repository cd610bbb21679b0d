"""The playbooks are clean: ansible-lint (offline, production profile) and --syntax-check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from citysoc.core.topology import Topology
from infra.inventory import inventory

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1"}


@pytest.mark.skipif(not (BIN / "ansible-lint").exists(), reason="ansible-lint is not installed")
def test_ansible_lint_is_clean_and_offline() -> None:
    assert "offline: true" in (PLAYBOOKS / ".ansible-lint").read_text()
    result = subprocess.run(
        [str(BIN / "ansible-lint"), "--offline", "-c", ".ansible-lint"],
        cwd=PLAYBOOKS, capture_output=True, text=True, env=ENV, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failure(s), 0 warning(s)" in result.stdout + result.stderr


@pytest.mark.skipif(
    not (BIN / "ansible-playbook").exists(), reason="ansible-playbook is not installed"
)
def test_site_playbook_syntax_with_the_topology_inventory(
    topology: Topology, tmp_path: Path
) -> None:
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inventory(topology)))
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(path), "--syntax-check", "site.yml"],
        cwd=PLAYBOOKS, capture_output=True, text=True, env=ENV, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    listed = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(path), "--list-hosts", "site.yml"],
        cwd=PLAYBOOKS, capture_output=True, text=True, env=ENV, timeout=60, check=True,
    )  # fmt: skip
    assert "soc-sensor-01" in listed.stdout and "bastion-01" in listed.stdout
