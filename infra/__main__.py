"""Pulumi entry point (``Pulumi.yaml``: ``main: infra/``). The work is in :mod:`infra.program`."""

import sys
from pathlib import Path

import pulumi

# Pulumi runs this file by path; make the repository root importable for ``infra.*``.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology
from infra.program import build_city, chosen_topology, export_city, read_stack_config

config = read_stack_config(pulumi.Config("citysoc"))
# CITYSOC_TOPOLOGY_PATH, when set, wins over the stack's citysoc:topology (as in `citysoc infra`).
path = chosen_topology(config, Settings())
pulumi.log.info(f"topology: {path}")
export_city(build_city(load_topology(path), config))
