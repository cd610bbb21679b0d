"""What Pulumi's uv toolchain runs, run here: plugin discovery and the program's interpreter.

Pulumi (``toolchain: uv``) lists the environment's packages with ``uv pip list --format
json`` (the environment activated) to find the resource plugins, and starts the program with
``uv run python`` in the project's directory with ``UV_PROJECT_ENVIRONMENT`` set. Both are run
here against the repository's ``.venv``, offline and without touching the lock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
VENV = REPO / ".venv"
UV = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path(UV).exists(), reason="uv is not installed (scripts/bootstrap.sh)"),
    pytest.mark.skipif(not (VENV / "pyvenv.cfg").exists(), reason="no .venv at the repository"),
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, **extra}


def test_plugin_discovery_finds_the_sdk_and_the_openstack_provider_without_pip() -> None:
    assert not (VENV / "bin" / "pip").exists(), "a uv-made .venv has no pip: the point of uv"
    env = _env(VIRTUAL_ENV=str(VENV), PATH=f"{VENV / 'bin'}:{os.environ.get('PATH', '')}")
    listed = subprocess.run(
        [UV, "pip", "list", "--format", "json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    names = {p["name"] for p in json.loads(listed.stdout)}
    assert {"pulumi", "pulumi-openstack", "pulumi-policy", "citysoc"} <= names


def test_uv_run_starts_the_program_in_the_venv() -> None:
    # --frozen --offline: the same environment Pulumi gets, without re-locking a shared tree.
    probe = "import sys, infra.program, infra.policy.policies; print(sys.executable)"
    result = subprocess.run(
        [UV, "run", "--frozen", "--offline", "python", "-c", probe],
        cwd=REPO, env=_env(UV_PROJECT_ENVIRONMENT=str(VENV)),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).parent == VENV / "bin"
