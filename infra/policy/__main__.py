"""Pulumi policy pack entry point; the policies are in :mod:`infra.policy.policies`."""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

# Pulumi runs this file by path; make the repository root importable for ``infra.*``.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infra.policy.policies import POLICIES

PolicyPack(
    name="citysoc-segmentation",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list(POLICIES),
)
