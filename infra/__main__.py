"""Pulumi entry point (``Pulumi.yaml``: ``main: infra/``). The work is in :mod:`infra.program`."""

import sys
from pathlib import Path

import pulumi

# Pulumi runs this file by path; make the repository root importable for ``infra.*``.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology
from infra.program import build_city, export_city, read_stack_config, topology_path

config = read_stack_config(pulumi.Config("citysoc"))
settings = Settings()
# CITYSOC_TOPOLOGY_PATH, when set, wins over the stack's citysoc:topology (as in `citysoc infra`).
path = settings.topology_path if "topology_path" in settings.model_fields_set else None
path = path or topology_path(config)
pulumi.log.info(f"topology: {path}")
export_city(build_city(load_topology(path), config))
