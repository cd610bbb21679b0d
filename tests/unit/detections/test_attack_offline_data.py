"""ATT&CK data for pySigma comes from the project's reference, in a folder the process removes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = (
    "from detections.engine.attack import use_offline_attack_data\n"
    "bundle = use_offline_attack_data()\n"
    "assert bundle.is_file() and bundle.stat().st_size > 0\n"
    "print(bundle)\n"
)


def test_the_offline_bundle_is_removed_when_the_process_ends() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=120
    )
    bundle = Path(done.stdout.strip().splitlines()[-1])
    assert bundle.name == "attack.json"
    assert not bundle.parent.exists()
