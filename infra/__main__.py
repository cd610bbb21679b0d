"""Pulumi entry point (``Pulumi.yaml``: ``main: infra/``). The work is in :mod:`infra.program`."""

import sys
from pathlib import Path

import pulumi

# Pulumi runs this file by path; make the repository root importable for ``infra.*``.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.program import build_city, export_city, load_city, read_stack_config

config = read_stack_config(pulumi.Config("citysoc"))
export_city(build_city(load_city(config), config))
