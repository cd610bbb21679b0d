"""Pulumi runs the program and the policy pack in the uv-made ``.venv`` (which has no pip)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]


def runtime_options(path: Path) -> dict[str, Any]:
    runtime = yaml.safe_load(path.read_text(encoding="utf-8"))["runtime"]
    assert runtime["name"] == "python"
    return dict(runtime.get("options") or {})


def test_the_program_runs_with_the_uv_toolchain_in_the_locked_venv() -> None:
    options = runtime_options(REPO / "Pulumi.yaml")
    # The pip toolchain (the default) lists plugins with `python -m pip list`: no pip here.
    assert options.get("toolchain") == "uv"
    # uv's toolchain makes `virtualenv` relative to the project (where Pulumi.yaml is) and runs
    # `uv run python` there: uv finds pyproject.toml and uv.lock at that root.
    assert (REPO / options["virtualenv"]).resolve() == REPO / ".venv"
    assert (REPO / "pyproject.toml").is_file() and (REPO / "uv.lock").is_file()
    main = yaml.safe_load((REPO / "Pulumi.yaml").read_text(encoding="utf-8"))["main"]
    assert (REPO / main / "__main__.py").is_file()


def test_the_policy_pack_runs_in_the_same_venv() -> None:
    pack = REPO / "infra" / "policy"
    options = runtime_options(pack / "PulumiPolicy.yaml")
    assert options.get("toolchain") == "uv"
    assert (pack / options["virtualenv"]).resolve() == REPO / ".venv"


def test_the_lock_holds_what_the_program_and_the_pack_import() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    infra = " ".join(project["project"]["optional-dependencies"]["infra"])
    locked = {p["name"] for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]}
    for package in ("pulumi", "pulumi-openstack", "pulumi-policy"):
        assert package in infra and package in locked
